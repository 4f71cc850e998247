//! Connect's `SchemaUtil.copySchemaBasics`: what a transform carries over from the schema it
//! rebuilds (name, version, doc, parameters), and what it does not (optionality, default).

use crate::data::{Schema, SchemaBuilder};

/// `builder` with the name, version, doc and parameters of `source`.
pub fn copy_schema_basics(source: &Schema, mut builder: SchemaBuilder) -> SchemaBuilder {
    if let Some(name) = source.name() {
        builder = builder.name(name);
    }
    if let Some(version) = source.version() {
        builder = builder.version(version);
    }
    if let Some(doc) = source.doc() {
        builder = builder.doc(doc);
    }
    for (k, v) in source.parameters() {
        builder = builder.parameter(k, v);
    }
    builder
}

/// A builder of the same type as `source` (an ARRAY with its element schema) with its basics:
/// the one-argument `copySchemaBasics`.
pub fn copy_schema(source: &Schema) -> SchemaBuilder {
    let builder = match (source.ty(), source.value_schema()) {
        (crate::data::Type::Array, Some(elem)) => SchemaBuilder::array(elem.clone()),
        (ty, _) => SchemaBuilder::new(ty),
    };
    copy_schema_basics(source, builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Type, Value};

    #[test]
    fn carries_name_version_doc_and_parameters_only() {
        let source = SchemaBuilder::new(Type::Int32)
            .name("n")
            .version(3)
            .doc("d")
            .parameter("k", "v")
            .optional()
            .default_value(Value::Int32(7))
            .build();
        let copy = copy_schema(&source).build();
        assert_eq!(copy.ty(), Type::Int32);
        assert_eq!(copy.name(), Some("n"));
        assert_eq!(copy.version(), Some(3));
        assert_eq!(copy.doc(), Some("d"));
        assert_eq!(copy.parameters().get("k").map(String::as_str), Some("v"));
        assert!(!copy.is_optional());
        assert_eq!(copy.default_value(), None);

        let array = SchemaBuilder::array(Schema::string()).doc("a").build();
        assert_eq!(copy_schema(&array).build(), array);
    }
}
