//! Field paths into structs and schemaless maps, as KIP-821 defines them
//! (`field.syntax.version`): with `V1` (the default) a path is one field name at the root, dots
//! included; with `V2` dots separate nested field names, and a name holding dots is wrapped in
//! backticks (`` `foo.bar`.baz `` is field `baz` of field `foo.bar`). A backtick that is part of
//! such a name is escaped with a backslash when a dot follows it.
//!
//! [`SingleFieldPath`] is one path (Connect's class of that name): parsing, and lookups of the
//! field, value and the map holding it. [`FieldPaths`] merges several paths by common prefix
//! (KIP-821's `MultiFieldPaths`) for transforms that work on several fields at once: it
//! projects a struct or map onto the paths (ValueToKey) and rebuilds a struct with the fields
//! the paths reach changed or removed (TimestampConverter, HeaderFrom).
//!
//! Deviations from Connect:
//! - A `V2` path that is the empty string has no steps; Connect fails on it with an index
//!   error when used, kconnect finds nothing.
//! - Nested structs rebuilt on the way to an updated field keep their optionality, and their
//!   struct default values are updated like values (Connect 4.x has no nested updates).

use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig, ParsedValue, Validator};
use crate::data::{Field, Schema, SchemaBuilder, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use super::schema_basics::copy_schema_basics;
use super::smt_config::{field_value, map_get_mut, with_default};
use super::util::{map_get, require_map, require_struct};

/// `field.syntax.version`.
pub const FIELD_SYNTAX_VERSION_CONFIG: &str = "field.syntax.version";

/// The purpose Connect names when a nested step is not a struct or map.
const NESTED_PURPOSE: &str = "nested field access";

/// How field paths are written (`field.syntax.version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldSyntaxVersion {
    /// A path is one field name at the root of the struct or map, dots included.
    #[default]
    V1,
    /// Dotted paths into nested structs and maps, backticks around names holding dots.
    V2,
}

impl FieldSyntaxVersion {
    /// Adds `field.syntax.version` to `def` (STRING, default `V1`, `V1` or `V2` in any case).
    pub fn define(def: ConfigDef) -> ConfigDef {
        def.define(
            FIELD_SYNTAX_VERSION_CONFIG,
            ConfigType::String,
            Some("V1"),
            Some(Validator::custom(
                "(case insensitive) [V1, V2]",
                |v| match v {
                    ParsedValue::String(s)
                        if s.eq_ignore_ascii_case("V1") || s.eq_ignore_ascii_case("V2") =>
                    {
                        Ok(())
                    }
                    ParsedValue::String(_) => {
                        Err("String must be one of (case insensitive): V1, V2".into())
                    }
                    _ => Ok(()),
                },
            )),
            Importance::High,
            "How field names are read. V1: a name is a field at the root of the struct or map, \
             even when it holds dots. V2: dots separate the names of nested fields; wrap a name \
             holding dots in backticks, e.g. \"`foo.bar`.baz\" is field baz inside the field \
             named \"foo.bar\".",
        )
    }

    /// The version a parsed config names.
    pub fn from_config(config: &ParsedConfig) -> ConnectResult<Self> {
        let s = config.string(FIELD_SYNTAX_VERSION_CONFIG)?;
        if s.eq_ignore_ascii_case("V1") {
            Ok(FieldSyntaxVersion::V1)
        } else if s.eq_ignore_ascii_case("V2") {
            Ok(FieldSyntaxVersion::V2)
        } else {
            Err(ConnectError::config(format!(
                "Invalid value {s} for configuration {FIELD_SYNTAX_VERSION_CONFIG}: \
                 Unrecognized field syntax version"
            )))
        }
    }
}

/// A schemaless map's entries, as [`Value::Map`] holds them.
pub type MapEntries = Vec<(Value, Value)>;

/// One path to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleFieldPath {
    text: String,
    steps: Vec<String>,
}

impl SingleFieldPath {
    /// Parses `text`; with `V2`, an opening backtick without its closing one is an error.
    pub fn new(text: &str, version: FieldSyntaxVersion) -> ConnectResult<Self> {
        let steps = match version {
            FieldSyntaxVersion::V1 => vec![text.to_string()],
            FieldSyntaxVersion::V2 => parse_v2(text)?,
        };
        Ok(SingleFieldPath {
            text: text.to_string(),
            steps,
        })
    }

    /// The path as configured.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The field names from the root down.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The field of a struct schema at this path; `None` when a step is missing. A step into a
    /// schema that is not a struct fails as Connect's `Schema.field` does.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> ConnectResult<Option<&'a Field>> {
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(None);
        };
        let mut current = schema;
        for step in init {
            match struct_field(current, step)? {
                Some(f) => current = &f.schema,
                None => return Ok(None),
            }
        }
        struct_field(current, last)
    }

    /// The value at this path in a struct; `None` when a field is missing or a struct on the
    /// way is null. Intermediate nulls take their defaults; the last field takes its default
    /// only `with_default`.
    pub fn value_from_struct<'a>(
        &self,
        value: &'a Struct,
        with_default: bool,
    ) -> ConnectResult<Option<&'a Value>> {
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(None);
        };
        let mut current = value;
        for step in init {
            if current.schema.field(step).is_none() {
                return Ok(None);
            }
            match current.get(step)? {
                Value::Null => return Ok(None),
                other => current = require_struct(other, NESTED_PURPOSE)?,
            }
        }
        if current.schema.field(last).is_none() {
            return Ok(None);
        }
        Ok(Some(if with_default {
            current.get(last)?
        } else {
            current.get_without_default(last)?
        }))
    }

    /// The value at this path in a schemaless map; `None` when absent or a map on the way is
    /// absent or null.
    pub fn value_from_map<'a>(
        &self,
        entries: &'a [(Value, Value)],
    ) -> ConnectResult<Option<&'a Value>> {
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(None);
        };
        let mut current = entries;
        for step in init {
            match map_get(current, step) {
                None | Some(Value::Null) => return Ok(None),
                Some(other) => current = require_map(other, NESTED_PURPOSE)?,
            }
        }
        Ok(map_get(current, last))
    }

    /// The schemaless map holding this path's last field, and that field's name, to change in
    /// place; `None` when a map on the way is absent or null.
    pub fn parent_map_mut<'a>(
        &'a self,
        entries: &'a mut MapEntries,
    ) -> ConnectResult<Option<(&'a mut MapEntries, &'a str)>> {
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(None);
        };
        let mut current = entries;
        for step in init {
            let next = match map_get_mut(current, step) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Map(m)) => m,
                Some(other) => return Err(not_a(other, require_map_err)),
            };
            current = next;
        }
        Ok(Some((current, last.as_str())))
    }
}

/// The field `name` of a struct schema, or Connect's error for a schema that is not a struct.
pub fn struct_field<'a>(schema: &'a Schema, name: &str) -> ConnectResult<Option<&'a Field>> {
    if schema.ty() != Type::Struct {
        return Err(ConnectError::data(
            "Cannot look up fields on non-struct type",
        ));
    }
    Ok(schema.field(name))
}

fn require_map_err(v: &Value) -> Option<ConnectError> {
    require_map(v, NESTED_PURPOSE).err()
}

fn not_a(v: &Value, check: fn(&Value) -> Option<ConnectError>) -> ConnectError {
    check(v).unwrap_or_else(|| ConnectError::data("unexpected value in a nested field path"))
}

fn incomplete_backticks(path: &str, chars: &[char], open: usize) -> ConnectError {
    // Connect counts UTF-16 units, as Java's `String.charAt` does.
    let position: usize = chars[..open].iter().map(|c| c.len_utf16()).sum();
    ConnectError::config(format!(
        "Incomplete backtick pair in path: [{path}], consider adding a backslash before \
         backtick at position {position} to escape it"
    ))
}

/// Splits a `V2` path into its field names.
///
/// A step that does not start with a backtick runs to the next dot. One that does ends at the
/// first later backtick that closes the path or is followed by a dot; a backtick followed by a
/// dot but preceded by a backslash is part of the name (the backslash dropped), and backticks
/// elsewhere are kept as they are. A trailing dot adds an empty last name.
fn parse_v2(path: &str) -> ConnectResult<Vec<String>> {
    let chars: Vec<char> = path.chars().collect();
    let n = chars.len();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < n {
        if chars[i] != '`' {
            match chars[i..].iter().position(|&c| c == '.') {
                Some(off) => {
                    steps.push(chars[i..i + off].iter().collect());
                    i += off + 1;
                }
                None => {
                    steps.push(chars[i..].iter().collect());
                    i = n;
                }
            }
            continue;
        }
        let open = i;
        let mut name = String::new();
        let mut start = open + 1;
        let mut j = open + 1;
        loop {
            let Some(off) = chars
                .get(j..)
                .and_then(|rest| rest.iter().position(|&c| c == '`'))
            else {
                return Err(incomplete_backticks(path, &chars, open));
            };
            j += off;
            let escaped = chars[j - 1] == '\\';
            if j == n - 1 {
                if escaped {
                    return Err(incomplete_backticks(path, &chars, open));
                }
                name.extend(&chars[start..j]);
                steps.push(name);
                i = n;
                break;
            }
            if chars[j + 1] != '.' {
                // Not a closing backtick: part of the name.
                j += 1;
                continue;
            }
            if escaped {
                name.extend(&chars[start..j - 1]);
                name.push('`');
                j += 1;
                start = j;
                continue;
            }
            name.extend(&chars[start..j]);
            steps.push(name);
            i = j + 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

/// A node of the merged paths: the field names one level down, and whether a path ends here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathNode {
    children: Vec<(String, PathNode)>,
    /// The index of the (first) path ending here.
    leaf: Option<usize>,
    /// The index of the first path through here, to name in errors.
    first: usize,
}

impl PathNode {
    /// The node of the child field `name`, if a path goes through it.
    pub fn child(&self, name: &str) -> Option<&PathNode> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    /// The field names one level down, in the order the paths first name them.
    pub fn children(&self) -> impl Iterator<Item = (&str, &PathNode)> {
        self.children.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// The index of the path ending here. A path ending here covers the whole field, so any
    /// longer path through it is ignored.
    pub fn leaf(&self) -> Option<usize> {
        self.leaf
    }
}

/// What a transform does to each field a path reaches, when rebuilding a struct.
pub trait FieldUpdate {
    /// The new schema of the field `path` reaches; `None` removes the field.
    fn schema(&mut self, path: usize, field: &Field) -> ConnectResult<Option<Schema>>;
    /// The new value of a field kept; `value` already has its default applied as configured.
    fn value(&mut self, path: usize, field: &Field, value: Value) -> ConnectResult<Value>;
}

/// Several paths merged by common prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPaths {
    paths: Vec<SingleFieldPath>,
    root: PathNode,
}

impl FieldPaths {
    /// The paths, merged by common prefix.
    pub fn new(paths: Vec<SingleFieldPath>) -> Self {
        let mut root = PathNode::default();
        for (index, path) in paths.iter().enumerate() {
            if path.steps.is_empty() {
                continue;
            }
            let mut node = &mut root;
            for step in &path.steps {
                let at = match node.children.iter().position(|(n, _)| n == step) {
                    Some(at) => at,
                    None => {
                        node.children.push((
                            step.clone(),
                            PathNode {
                                first: index,
                                ..PathNode::default()
                            },
                        ));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            node.leaf.get_or_insert(index);
        }
        FieldPaths { paths, root }
    }

    /// Parses each of `texts` with `version`.
    pub fn parse(texts: &[String], version: FieldSyntaxVersion) -> ConnectResult<Self> {
        let paths = texts
            .iter()
            .map(|t| SingleFieldPath::new(t, version))
            .collect::<ConnectResult<Vec<_>>>()?;
        Ok(Self::new(paths))
    }

    /// The paths, in the order given.
    pub fn paths(&self) -> &[SingleFieldPath] {
        &self.paths
    }

    /// The tree of the merged paths (its root: the record's key or value itself).
    pub fn root(&self) -> &PathNode {
        &self.root
    }

    fn missing(&self, node: &PathNode) -> ConnectError {
        ConnectError::data(format!(
            "Field does not exist: {}",
            self.paths[node.first].text
        ))
    }

    /// A struct schema with only the fields the paths reach, nested as in `schema`; a missing
    /// field fails with Connect's `Field does not exist: <path>`. Nested structs keep their
    /// optionality, not their name or default (they hold fewer fields).
    pub fn project_schema(&self, schema: &Schema) -> ConnectResult<Schema> {
        Ok(self.project_node_schema(&self.root, schema)?.build())
    }

    fn project_node_schema(
        &self,
        node: &PathNode,
        schema: &Schema,
    ) -> ConnectResult<SchemaBuilder> {
        let mut b = SchemaBuilder::struct_();
        for (step, child) in &node.children {
            let field = struct_field(schema, step)?.ok_or_else(|| self.missing(child))?;
            let s = if child.leaf.is_some() {
                field.schema.clone()
            } else {
                let mut sub = self.project_node_schema(child, &field.schema)?;
                if field.schema.is_optional() {
                    sub = sub.optional();
                }
                sub.build()
            };
            b = b.field(step.clone(), s);
        }
        Ok(b)
    }

    /// `value` projected onto [`FieldPaths::project_schema`]'s schema `projected`.
    pub fn project_struct(
        &self,
        value: &Struct,
        projected: &Schema,
        with_default: bool,
    ) -> ConnectResult<Struct> {
        self.project_node_struct(&self.root, value, projected, with_default)
    }

    fn project_node_struct(
        &self,
        node: &PathNode,
        value: &Struct,
        projected: &Schema,
        with_default: bool,
    ) -> ConnectResult<Struct> {
        let mut values = Vec::with_capacity(node.children.len());
        for ((step, child), out_field) in node.children.iter().zip(projected.fields()) {
            let index = value
                .schema
                .fields()
                .iter()
                .position(|f| f.name == *step)
                .ok_or_else(|| self.missing(child))?;
            let v = field_value(value, index, with_default);
            values.push(if child.leaf.is_some() {
                v
            } else {
                match v {
                    Value::Null => Value::Null,
                    Value::Struct(s) => Value::Struct(self.project_node_struct(
                        child,
                        &s,
                        &out_field.schema,
                        with_default,
                    )?),
                    other => {
                        return Err(not_a(&other, |v| require_struct(v, NESTED_PURPOSE).err()))
                    }
                }
            });
        }
        Ok(Struct {
            schema: projected.clone(),
            values,
        })
    }

    /// A schemaless map with only the entries the paths reach, nested as in `entries`; absent
    /// entries are null, as Connect's `map.get` gives them.
    pub fn project_map(&self, entries: &[(Value, Value)]) -> ConnectResult<Value> {
        self.project_node_map(&self.root, entries)
    }

    fn project_node_map(
        &self,
        node: &PathNode,
        entries: &[(Value, Value)],
    ) -> ConnectResult<Value> {
        let mut out = Vec::with_capacity(node.children.len());
        for (step, child) in &node.children {
            let v = map_get(entries, step).cloned().unwrap_or(Value::Null);
            let v = if child.leaf.is_some() {
                v
            } else {
                match v {
                    Value::Null => Value::Null,
                    Value::Map(m) => self.project_node_map(child, &m)?,
                    other => return Err(not_a(&other, require_map_err)),
                }
            };
            out.push((Value::String(step.clone()), v));
        }
        Ok(Value::Map(out))
    }

    /// `schema` (a struct) with the fields the paths reach given the schema `update` says, as a
    /// builder carrying the name, version, doc and parameters of `schema` but not its
    /// optionality or default: Connect's transforms differ in those. Paths that lead nowhere
    /// change nothing.
    pub fn update_schema(
        &self,
        schema: &Schema,
        update: &mut dyn FieldUpdate,
    ) -> ConnectResult<SchemaBuilder> {
        self.update_node_schema(&self.root, schema, update)
    }

    fn update_node_schema(
        &self,
        node: &PathNode,
        schema: &Schema,
        update: &mut dyn FieldUpdate,
    ) -> ConnectResult<SchemaBuilder> {
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        for field in schema.fields() {
            let name = field.name.clone();
            match node.child(&field.name) {
                None => b = b.field(name, field.schema.clone()),
                Some(child) => {
                    if let Some(path) = child.leaf {
                        if let Some(s) = update.schema(path, field)? {
                            b = b.field(name, s);
                        }
                    } else if field.schema.ty() == Type::Struct {
                        let mut sub = self.update_node_schema(child, &field.schema, update)?;
                        if field.schema.is_optional() {
                            sub = sub.optional();
                        }
                        if let Some(Value::Struct(d)) = field.schema.default_value() {
                            let without_default = sub.clone().build();
                            let d = self.update_node_struct(
                                child,
                                d.clone(),
                                &without_default,
                                update,
                                true,
                            )?;
                            sub = sub.default_value(Value::Struct(d));
                        }
                        b = b.field(name, sub.build());
                    } else {
                        b = b.field(name, field.schema.clone());
                    }
                }
            }
        }
        Ok(b)
    }

    /// `value` moved onto `new_schema`, the schema [`FieldPaths::update_schema`] built from
    /// its schema: fields the paths reach get `update`'s value, removed ones are dropped, and
    /// null fields copied take their defaults when `replace_null_with_default`.
    pub fn update_struct(
        &self,
        value: Struct,
        new_schema: &Schema,
        update: &mut dyn FieldUpdate,
        replace_null_with_default: bool,
    ) -> ConnectResult<Struct> {
        self.update_node_struct(
            &self.root,
            value,
            new_schema,
            update,
            replace_null_with_default,
        )
    }

    fn update_node_struct(
        &self,
        node: &PathNode,
        value: Struct,
        new_schema: &Schema,
        update: &mut dyn FieldUpdate,
        replace: bool,
    ) -> ConnectResult<Struct> {
        let Struct {
            schema: old_schema,
            values,
        } = value;
        let mut values = values.into_iter();
        let mut out = Vec::with_capacity(new_schema.fields().len());
        for field in old_schema.fields() {
            let v = with_default(values.next().unwrap_or(Value::Null), &field.schema, replace);
            let Some(child) = node.child(&field.name) else {
                out.push(v);
                continue;
            };
            let Some(new_field) = new_schema.field(&field.name) else {
                continue; // removed
            };
            out.push(match (child.leaf, v) {
                (Some(path), v) => update.value(path, field, v)?,
                (None, Value::Struct(s)) if new_field.schema.ty() == Type::Struct => Value::Struct(
                    self.update_node_struct(child, s, &new_field.schema, update, replace)?,
                ),
                (None, v) => v,
            });
        }
        Ok(Struct {
            schema: new_schema.clone(),
            values: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_records::map;

    fn v2(path: &str) -> SingleFieldPath {
        SingleFieldPath::new(path, FieldSyntaxVersion::V2).unwrap()
    }

    fn steps_v2(path: &str) -> Vec<String> {
        v2(path).steps().to_vec()
    }

    #[test]
    fn v1_is_one_step_whatever_it_holds() {
        for p in ["foo.bar.baz", "foo`bar`", "foo.`bar.baz`"] {
            let path = SingleFieldPath::new(p, FieldSyntaxVersion::V1).unwrap();
            assert_eq!(path.steps(), [p.to_string()]);
        }
    }

    #[test]
    fn v2_splits_on_dots_and_keeps_empty_names() {
        assert_eq!(steps_v2(".."), ["", "", ""]);
        assert_eq!(steps_v2("foo.."), ["foo", "", ""]);
        assert_eq!(steps_v2(".bar."), ["", "bar", ""]);
        assert_eq!(steps_v2("..baz"), ["", "", "baz"]);
        assert!(steps_v2("").is_empty());
        assert_eq!(steps_v2("foobarbaz"), ["foobarbaz"]);
        assert_eq!(steps_v2("foo.bar.baz"), ["foo", "bar", "baz"]);
        assert_eq!(steps_v2("foo`bar`baz"), ["foo`bar`baz"]);
    }

    #[test]
    fn v2_backticks_wrap_names_with_dots() {
        assert_eq!(steps_v2("`foo.bar.baz`"), ["foo.bar.baz"]);
        assert_eq!(steps_v2("foo.`bar.baz`"), ["foo", "bar.baz"]);
        assert_eq!(steps_v2("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(steps_v2("foo.`bar`.baz"), ["foo", "bar", "baz"]);
        // Backticks that do not wrap a name are part of it.
        assert_eq!(steps_v2("foo.``bar.baz`"), ["foo", "`bar.baz"]);
        assert_eq!(steps_v2("foo.`bar.baz``"), ["foo", "bar.baz`"]);
        assert_eq!(steps_v2("foo.`ba`r.baz`"), ["foo", "ba`r.baz"]);
        assert_eq!(steps_v2("foo.ba`r.baz"), ["foo", "ba`r", "baz"]);
        assert_eq!(steps_v2("foo.``bar``.baz"), ["foo", "`bar`", "baz"]);
        assert_eq!(steps_v2("``foo.bar.baz``"), ["`foo.bar.baz`"]);
    }

    #[test]
    fn v2_backslash_escapes_a_backtick_before_a_dot() {
        assert_eq!(steps_v2("foo.`bar\\`.baz`"), ["foo", "bar`.baz"]);
        assert_eq!(steps_v2("foo.`bar.`baz`"), ["foo", "bar.`baz"]);
        assert_eq!(steps_v2("foo.`bar\\`.`baz`"), ["foo", "bar`.`baz"]);
        assert_eq!(steps_v2("foo.`bar\\\\`.\\`baz`"), ["foo", "bar\\`.\\`baz"]);
    }

    #[test]
    fn v2_unclosed_backtick_fails_with_its_position() {
        for (path, at) in [
            ("`foo.bar.baz", 0),
            ("foo.`bar.baz", 4),
            ("foo.bar.`baz", 8),
            ("foo.bar.`baz\\`", 8),
            // Positions count UTF-16 units, as Connect's do.
            ("é𝄞.`x", 4),
        ] {
            let err = SingleFieldPath::new(path, FieldSyntaxVersion::V2).unwrap_err();
            assert_eq!(
                err,
                ConnectError::config(format!(
                    "Incomplete backtick pair in path: [{path}], consider adding a backslash \
                     before backtick at position {at} to escape it"
                ))
            );
        }
    }

    fn nested_schema() -> (Schema, Schema, Schema) {
        let baz = SchemaBuilder::struct_()
            .field("inner", Schema::string())
            .optional()
            .build();
        let bar = SchemaBuilder::struct_()
            .field("bar", Schema::int32())
            .field("baz", baz.clone())
            .build();
        let root = SchemaBuilder::struct_().field("foo", bar.clone()).build();
        (root, bar, baz)
    }

    fn nested_struct() -> Struct {
        let (root, bar, _) = nested_schema();
        let foo = Struct::new(bar).unwrap().with("bar", 42).unwrap();
        Struct::new(root).unwrap().with("foo", foo).unwrap()
    }

    #[test]
    fn finds_fields_in_schemas() {
        let (root, bar, _) = nested_schema();
        assert_eq!(v2("foo.bar").field_from(&root).unwrap(), bar.field("bar"));
        assert_eq!(v2("foo").field_from(&root).unwrap(), root.field("foo"));
        for missing in ["un.known", "foo.unknown", "unknown", ""] {
            assert_eq!(v2(missing).field_from(&root).unwrap(), None, "{missing}");
        }
        assert_eq!(
            v2("foo.bar.x").field_from(&root).unwrap_err(),
            ConnectError::data("Cannot look up fields on non-struct type")
        );
    }

    #[test]
    fn finds_values_in_structs() {
        let s = nested_struct();
        assert_eq!(
            v2("foo.bar").value_from_struct(&s, true).unwrap(),
            Some(&Value::Int32(42))
        );
        assert_eq!(
            v2("foo.baz").value_from_struct(&s, true).unwrap(),
            Some(&Value::Null)
        );
        for missing in ["un.known", "foo.unknown", "unknown", "foo.baz.inner"] {
            assert_eq!(
                v2(missing).value_from_struct(&s, true).unwrap(),
                None,
                "{missing}"
            );
        }
        assert_eq!(
            v2("foo.bar.x").value_from_struct(&s, true).unwrap_err(),
            ConnectError::data(
                "Only Struct objects supported for [nested field access], found: java.lang.Integer"
            )
        );
    }

    #[test]
    fn defaults_apply_to_the_last_field_only_when_asked() {
        let schema = SchemaBuilder::struct_()
            .field(
                "a",
                SchemaBuilder::new(Type::Int32)
                    .optional()
                    .default_value(Value::Int32(7))
                    .build(),
            )
            .build();
        let s = Struct::new(schema).unwrap();
        let path = SingleFieldPath::new("a", FieldSyntaxVersion::V1).unwrap();
        assert_eq!(
            path.value_from_struct(&s, true).unwrap(),
            Some(&Value::Int32(7))
        );
        assert_eq!(
            path.value_from_struct(&s, false).unwrap(),
            Some(&Value::Null)
        );
    }

    #[test]
    fn finds_values_in_maps() {
        let m = map(&[(
            "foo",
            map(&[("bar", Value::Int32(42)), ("baz", Value::Null)]),
        )]);
        let Value::Map(entries) = &m else {
            unreachable!()
        };
        assert_eq!(
            v2("foo.bar").value_from_map(entries).unwrap(),
            Some(&Value::Int32(42))
        );
        assert_eq!(
            v2("foo.baz").value_from_map(entries).unwrap(),
            Some(&Value::Null)
        );
        for missing in ["un.known", "foo.unknown", "unknown", "foo.baz.inner"] {
            assert_eq!(
                v2(missing).value_from_map(entries).unwrap(),
                None,
                "{missing}"
            );
        }
        assert_eq!(
            v2("foo.bar.x").value_from_map(entries).unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [nested field access], \
                 found: java.lang.Integer"
            )
        );
    }

    #[test]
    fn parent_map_allows_changes_in_place() {
        let mut m = map(&[("foo", map(&[("bar", Value::Int32(42))]))]);
        let Value::Map(entries) = &mut m else {
            unreachable!()
        };
        let path = v2("foo.bar");
        let (parent, last) = path.parent_map_mut(entries).unwrap().unwrap();
        assert_eq!(last, "bar");
        parent.clear();
        assert_eq!(m, map(&[("foo", map(&[]))]));
        let Value::Map(entries) = &mut m else {
            unreachable!()
        };
        assert!(v2("nope.bar").parent_map_mut(entries).unwrap().is_none());
    }

    fn paths(texts: &[&str]) -> FieldPaths {
        let texts: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
        FieldPaths::parse(&texts, FieldSyntaxVersion::V2).unwrap()
    }

    #[test]
    fn merges_paths_by_prefix_in_first_seen_order() {
        let p = paths(&["b.x", "a", "b.y", "a.z", "b.x"]);
        let root = p.root();
        let names: Vec<&str> = root.children().map(|(n, _)| n).collect();
        assert_eq!(names, ["b", "a"]);
        let b = root.child("b").unwrap();
        assert_eq!(b.leaf(), None);
        assert_eq!(b.child("x").unwrap().leaf(), Some(0));
        assert_eq!(b.child("y").unwrap().leaf(), Some(2));
        assert_eq!(root.child("a").unwrap().leaf(), Some(1));
    }

    #[test]
    fn projects_structs_and_maps_keeping_the_nesting() {
        let s = nested_struct();
        let p = paths(&["foo.bar", "foo.baz"]);
        let schema = p.project_schema(&s.schema).unwrap();
        let (_, _, baz) = nested_schema();
        let want_foo = SchemaBuilder::struct_()
            .field("bar", Schema::int32())
            .field("baz", baz)
            .build();
        assert_eq!(
            schema,
            SchemaBuilder::struct_()
                .field("foo", want_foo.clone())
                .build()
        );
        let projected = p.project_struct(&s, &schema, true).unwrap();
        let want = Struct::new(schema.clone())
            .unwrap()
            .with(
                "foo",
                Struct::new(want_foo).unwrap().with("bar", 42).unwrap(),
            )
            .unwrap();
        assert_eq!(projected, want);
        projected.validate().unwrap();

        assert_eq!(
            paths(&["foo.nope"]).project_schema(&s.schema).unwrap_err(),
            ConnectError::data("Field does not exist: foo.nope")
        );

        let m = map(&[
            (
                "foo",
                map(&[("bar", Value::Int32(1)), ("x", Value::Int32(2))]),
            ),
            ("y", Value::Int32(3)),
        ]);
        let Value::Map(entries) = &m else {
            unreachable!()
        };
        assert_eq!(
            paths(&["foo.bar", "gone", "gone2.z"])
                .project_map(entries)
                .unwrap(),
            map(&[
                ("foo", map(&[("bar", Value::Int32(1))])),
                ("gone", Value::Null),
                ("gone2", Value::Null),
            ])
        );
    }

    /// Replaces reached fields by their string form, or removes them.
    struct Stringify {
        remove: bool,
    }

    impl FieldUpdate for Stringify {
        fn schema(&mut self, _: usize, field: &Field) -> ConnectResult<Option<Schema>> {
            Ok((!self.remove).then(|| {
                if field.schema.is_optional() {
                    Schema::optional_string()
                } else {
                    Schema::string()
                }
            }))
        }
        fn value(&mut self, _: usize, _: &Field, value: Value) -> ConnectResult<Value> {
            Ok(match value {
                Value::Null => Value::Null,
                v => Value::String(v.to_java_string()),
            })
        }
    }

    #[test]
    fn updates_nested_fields_and_rebuilds_the_structs_on_the_way() {
        let s = nested_struct();
        let p = paths(&["foo.bar", "nope.x"]);
        let schema = p
            .update_schema(&s.schema, &mut Stringify { remove: false })
            .unwrap()
            .build();
        let (_, _, baz) = nested_schema();
        let want_foo = SchemaBuilder::struct_()
            .field("bar", Schema::string())
            .field("baz", baz.clone())
            .build();
        assert_eq!(
            schema,
            SchemaBuilder::struct_()
                .field("foo", want_foo.clone())
                .build()
        );
        let updated = p
            .update_struct(s.clone(), &schema, &mut Stringify { remove: false }, true)
            .unwrap();
        updated.validate().unwrap();
        assert_eq!(
            updated
                .get("foo")
                .unwrap()
                .as_struct()
                .unwrap()
                .get("bar")
                .unwrap(),
            &Value::String("42".into())
        );

        let removed = p
            .update_schema(&s.schema, &mut Stringify { remove: true })
            .unwrap()
            .build();
        let want_foo = SchemaBuilder::struct_().field("baz", baz).build();
        assert_eq!(
            removed,
            SchemaBuilder::struct_()
                .field("foo", want_foo.clone())
                .build()
        );
        let updated = p
            .update_struct(s, &removed, &mut Stringify { remove: true }, true)
            .unwrap();
        updated.validate().unwrap();
        assert_eq!(
            updated.get("foo").unwrap(),
            &Value::Struct(Struct::new(want_foo).unwrap())
        );
    }

    #[test]
    fn syntax_version_config() {
        let def = FieldSyntaxVersion::define(ConfigDef::new());
        let parse = |v: &str| {
            let mut p = crate::api::Props::new();
            p.insert(FIELD_SYNTAX_VERSION_CONFIG.into(), v.into());
            def.parse(&p)
                .and_then(|c| FieldSyntaxVersion::from_config(&c))
        };
        assert_eq!(parse("v2").unwrap(), FieldSyntaxVersion::V2);
        assert_eq!(parse("V1").unwrap(), FieldSyntaxVersion::V1);
        assert_eq!(
            parse("V3").unwrap_err(),
            ConnectError::config(
                "Invalid value V3 for configuration field.syntax.version: String must be one of \
                 (case insensitive): V1, V2"
            )
        );
        let key = def.key(FIELD_SYNTAX_VERSION_CONFIG).unwrap();
        assert_eq!(key.default_string().as_deref(), Some("V1"));
    }
}
