//! A connector's transforms, applied in order to each record: Connect's `TransformationChain`
//! of `TransformationStage`s, built from the connector config as Connect's
//! `ConnectorConfig.transformationStages` builds it, and the keys the transforms add to the
//! connector's config definition for validation (`ConnectorConfig.enrich`, see [`enrich`]).
//!
//! The keys:
//! - `transforms`: the transform aliases, applied in that order; `predicates`: predicate aliases.
//! - `transforms.<alias>.type`: the class (name or alias). Every `transforms.<alias>.<key>`
//!   configures the transform as `<key>`, `type` included (as Connect passes it), except:
//! - `transforms.<alias>.predicate`: a predicate alias; the transform then applies only to the
//!   records the predicate matches, or with `transforms.<alias>.negate=true` to those it does not.
//! - `predicates.<alias>.type` and `predicates.<alias>.<key>`: the same for a predicate.
//!
//! Deviations from Connect, on purpose:
//! - A predicate alias named by a transform must be listed in `predicates`. Connect accepts such
//!   a config and fails the task when it starts ("Unknown configuration 'predicates.p.type'").
//! - [`TransformChain::new`] configures every transform and predicate, and validation builds the
//!   chain too, so an error only `configure` finds refuses the config at create. Connect meets
//!   those only when a task starts, which then fails.
//! - Errors about a transform's own keys name them with their prefix
//!   (`transforms.a.magic.number`); Connect's validators name them without it.
//! - The duplicate-alias message shows the list as given (`a,a`), not as Java prints it
//!   (`[a, a]`).
//! - As in Connect, each transform gets an instance of its predicate of its own, configured from
//!   the predicate's keys: a predicate alias is shared as configuration, not as an object.

use std::collections::BTreeMap;
use std::fmt;

use super::{ConnectRecord, Outcome, Predicate, Transformation};
use crate::api::Props;
use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, ParsedValue, Validator, Width};
use crate::error::ConnectError;
use crate::registry::PluginRegistry;

/// The connector key listing the transform aliases, in order.
pub const TRANSFORMS: &str = "transforms";
/// The connector key listing the predicate aliases.
pub const PREDICATES: &str = "predicates";
/// `transforms.<alias>.type`, `predicates.<alias>.type`.
pub const TYPE: &str = "type";
/// `transforms.<alias>.predicate`.
pub const PREDICATE: &str = "predicate";
/// `transforms.<alias>.negate`.
pub const NEGATE: &str = "negate";
/// Connect's groups of the `transforms` and `predicates` keys; each alias's keys go in
/// `Transforms: <alias>` / `Predicates: <alias>`.
pub const TRANSFORMS_GROUP: &str = "Transforms";
/// The group of the `predicates` keys (see [`TRANSFORMS_GROUP`]).
pub const PREDICATES_GROUP: &str = "Predicates";

/// A config the chain cannot be built from: the key in error and Connect's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChainConfigError {
    /// The key in error.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ChainConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ChainConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A transform failed on a record: which one (for the task's error and error reporting).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("transformation {alias} ({class}) failed: {error}")]
pub struct TransformFailure {
    /// The transform's alias (`transforms=<alias>`).
    pub alias: String,
    /// The transform's class name.
    pub class: &'static str,
    /// Its position in the chain: [`TransformChain::apply_stage`] tries it again, and
    /// [`TransformChain::apply_from`] the position after it goes on with the rest.
    pub index: usize,
    /// What the transform raised.
    pub error: ConnectError,
}

/// The two kinds of plugins configured by alias (Connect's `EnrichablePlugin`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transformation,
    Predicate,
}

impl Kind {
    fn list_key(self) -> &'static str {
        match self {
            Kind::Transformation => TRANSFORMS,
            Kind::Predicate => PREDICATES,
        }
    }

    fn group(self) -> &'static str {
        match self {
            Kind::Transformation => TRANSFORMS_GROUP,
            Kind::Predicate => PREDICATES_GROUP,
        }
    }

    /// As Connect names the interface in its messages.
    fn name(self) -> &'static str {
        match self {
            Kind::Transformation => "Transformation",
            Kind::Predicate => "Predicate",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Kind::Transformation => "transformation",
            Kind::Predicate => "predicate",
        }
    }

    /// `transforms.<alias>.` / `predicates.<alias>.`
    fn prefix(self, alias: &str) -> String {
        format!("{}.{alias}.", self.list_key())
    }

    fn alias_group(self, alias: &str) -> String {
        format!("{}: {alias}", self.group())
    }

    /// The class names of this kind, as Connect recommends them for a `.type` key.
    fn classes(self, registry: &PluginRegistry) -> Vec<String> {
        match self {
            Kind::Transformation => registry
                .transformations()
                .iter()
                .map(|p| p.class_name.to_string())
                .collect(),
            Kind::Predicate => registry
                .predicates()
                .iter()
                .map(|p| p.class_name.to_string())
                .collect(),
        }
    }

    /// The class a `.type` value names, or Connect's error for it.
    fn resolve(
        self,
        registry: &PluginRegistry,
        type_key: &str,
        given: &str,
    ) -> Result<&'static str, ChainConfigError> {
        let found = match self {
            Kind::Transformation => registry.transformation(given).map(|p| p.class_name),
            Kind::Predicate => registry.predicate(given).map(|p| p.class_name),
        };
        if let Some(class) = found {
            return Ok(class);
        }
        // A plugin of another kind: Connect's "Not a …", which shows the class as Java prints
        // it (`class a.b.C`).
        let other = match self {
            Kind::Transformation => registry.predicate(given).map(|p| p.class_name),
            Kind::Predicate => registry.transformation(given).map(|p| p.class_name),
        }
        .or_else(|| registry.connector(given).map(|p| p.class_name));
        Err(ChainConfigError::new(
            type_key,
            match other {
                Some(class) => format!(
                    "Invalid value class {class} for configuration {type_key}: Not a {}",
                    self.name()
                ),
                None => format!(
                    "Invalid value {given} for configuration {type_key}: Class {given} could not \
                     be found."
                ),
            },
        ))
    }
}

/// The aliases a list key gives, as Connect parses a LIST (trimmed, split on commas).
fn aliases(props: &Props, key: &str) -> Vec<String> {
    let raw = props.get(key).map(|s| s.trim()).unwrap_or_default();
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|s| s.trim().to_string()).collect()
}

fn has_duplicates(aliases: &[String]) -> bool {
    aliases
        .iter()
        .enumerate()
        .any(|(i, a)| aliases[..i].contains(a))
}

/// The validator of `transforms` and `predicates` (Connect's `aliasValidator`): no alias twice.
pub fn unique_aliases(kind: &str) -> Validator {
    Validator::custom(format!("unique {kind} aliases"), |v| match v {
        ParsedValue::List(aliases) if has_duplicates(aliases) => {
            Err("Duplicate alias provided.".to_string())
        }
        _ => Ok(()),
    })
}

/// The aliases of `kind`, refused when one is given twice.
fn unique_list(props: &Props, kind: Kind) -> Result<Vec<String>, ChainConfigError> {
    let key = kind.list_key();
    let list = aliases(props, key);
    if has_duplicates(&list) {
        let raw = props.get(key).map(|s| s.trim()).unwrap_or_default();
        return Err(ChainConfigError::new(
            key,
            format!("Invalid value {raw} for configuration {key}: Duplicate alias provided."),
        ));
    }
    Ok(list)
}

/// The keys of `props` under `prefix`, the prefix removed (Connect's `originalsWithPrefix`).
fn stripped(props: &Props, prefix: &str) -> Props {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
        .collect()
}

fn importance_rank(i: Importance) -> u8 {
    match i {
        Importance::High => 0,
        Importance::Medium => 1,
        Importance::Low => 2,
    }
}

/// The keys of `def` in the order Connect's `ConfigDef.sortedConfigs` gives: ungrouped keys
/// first, then by group and order in it; then required keys first, by importance, by name.
/// (kconnect numbers every key it defines, so ungrouped keys are not compared by order.)
fn sorted_keys(def: &ConfigDef) -> Vec<&ConfigKey> {
    let groups = def.groups();
    let rank = |k: &ConfigKey| {
        k.group
            .as_ref()
            .and_then(|g| groups.iter().position(|x| x == g))
            .map_or(0, |i| i + 1)
    };
    let mut keys: Vec<&ConfigKey> = def.keys().iter().collect();
    keys.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| {
                if a.group.is_some() {
                    a.order.cmp(&b.order)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| b.required().cmp(&a.required()))
            .then_with(|| importance_rank(a.importance).cmp(&importance_rank(b.importance)))
            .then_with(|| a.name.cmp(&b.name))
    });
    keys
}

/// Connect's `ConfigDef.embed`: `child`'s keys under `prefix`, in `group` (`group: <key's
/// group>` where the key has one), numbered from `first_order` in sorted order.
fn embed(
    mut def: ConfigDef,
    prefix: &str,
    group: &str,
    child: &ConfigDef,
    first_order: i32,
) -> ConfigDef {
    for (i, k) in sorted_keys(child).into_iter().enumerate() {
        let mut k = k.clone();
        k.name = format!("{prefix}{}", k.name);
        k.group = Some(match &k.group {
            Some(g) => format!("{group}: {g}"),
            None => group.to_string(),
        });
        k.order = first_order + i as i32;
        k.dependents = k
            .dependents
            .iter()
            .map(|d| format!("{prefix}{d}"))
            .collect();
        def = def.define_key(k);
    }
    def
}

/// The `.type` key of an alias, as Connect defines it.
fn type_key(kind: Kind, alias: &str) -> ConfigKey {
    let key = ConfigDef::new()
        .define(
            &format!("{}{TYPE}", kind.prefix(alias)),
            ConfigType::Class,
            None,
            None,
            Importance::High,
            &format!("Class for the '{alias}' {}.", kind.lower()),
        )
        .in_group(
            &kind.alias_group(alias),
            Width::Long,
            &format!("{} type for {alias}", kind.name()),
        );
    let mut k = key.keys()[0].clone();
    k.order = 0;
    k
}

/// A transform's own keys plus the two every transform has (which mask any of its own of the
/// same names, as in Connect).
fn transformation_keys(own: &ConfigDef) -> ConfigDef {
    own.keys()
        .iter()
        .filter(|k| k.name != PREDICATE && k.name != NEGATE)
        .fold(ConfigDef::new(), |d, k| d.define_key(k.clone()))
        .define_optional(
            PREDICATE,
            ConfigType::String,
            Importance::Medium,
            "The alias of a predicate used to determine whether to apply this transformation.",
        )
        .define(
            NEGATE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Whether the configured predicate should be negated.",
        )
}

/// Connect's check that `negate` is only given with a `predicate`.
fn negate_without_predicate(props: &Props, prefix: &str) -> Option<ChainConfigError> {
    let negate = format!("{prefix}{NEGATE}");
    let predicate = format!("{prefix}{PREDICATE}");
    (props.contains_key(&negate) && !props.contains_key(&predicate)).then(|| {
        ChainConfigError::new(
            format!("{prefix}{TYPE}"),
            format!(
                "Config '{negate}' was provided but there is no config '{predicate}' defining a \
                 predicate to be negated."
            ),
        )
    })
}

/// A transform's predicate alias that `predicates` does not list.
fn unlisted_predicate(
    props: &Props,
    prefix: &str,
    predicates: &[String],
) -> Option<ChainConfigError> {
    let key = format!("{prefix}{PREDICATE}");
    let alias = props.get(&key)?.trim();
    (!predicates.iter().any(|p| p == alias)).then(|| {
        ChainConfigError::new(
            &key,
            format!(
                "Invalid value {alias} for configuration {key}: not one of the predicate aliases \
                 listed in {PREDICATES}"
            ),
        )
    })
}

/// The first error of the embedded keys of one alias.
fn check_keys(
    props: &Props,
    prefix: &str,
    group: &str,
    child: &ConfigDef,
) -> Result<(), ChainConfigError> {
    let def = embed(ConfigDef::new(), prefix, group, child, 1);
    for v in def.validate(props) {
        if let Some(e) = v.errors.into_iter().next() {
            return Err(ChainConfigError::new(v.name, e));
        }
    }
    Ok(())
}

fn configure_error(
    kind: Kind,
    alias: &str,
    class: &str,
    type_key: &str,
    e: ConnectError,
) -> ChainConfigError {
    ChainConfigError::new(
        type_key,
        format!(
            "{} {alias} ({class}) could not be configured: {e}",
            kind.name()
        ),
    )
}

/// What a connector config's transforms and predicates add to its definition (Connect's
/// `ConnectorConfig.enrich` as validation calls it), and what the keys alone do not show.
#[derive(Debug, Clone, Default)]
pub struct Enriched {
    /// Per alias, its `.type` key, and when the class is known, its keys under the alias's
    /// prefix (with `predicate` and `negate` for a transform), each in its alias's group.
    pub def: ConfigDef,
    /// Errors that involve more than one key or the registry: an unknown class, `negate`
    /// without `predicate`, a predicate alias `predicates` does not list.
    pub errors: Vec<ChainConfigError>,
    /// For each `.type` key, the classes of its kind (Connect's recommended values).
    pub recommended: BTreeMap<String, Vec<String>>,
}

/// The keys and errors a connector config's `transforms` and `predicates` add. Aliases given
/// twice count once here; the `transforms` / `predicates` keys' validator reports them.
pub fn enrich(props: &Props, registry: &PluginRegistry) -> Enriched {
    let mut out = Enriched::default();
    let predicates = aliases(props, PREDICATES);
    for kind in [Kind::Transformation, Kind::Predicate] {
        let mut seen: Vec<String> = Vec::new();
        for alias in aliases(props, kind.list_key()) {
            if seen.contains(&alias) {
                continue;
            }
            seen.push(alias.clone());
            let prefix = kind.prefix(&alias);
            let group = kind.alias_group(&alias);
            let type_key = type_key(kind, &alias);
            out.recommended
                .insert(type_key.name.clone(), kind.classes(registry));
            let name = type_key.name.clone();
            out.def = std::mem::take(&mut out.def).define_key(type_key);
            let Some(given) = props.get(&name).map(|s| s.trim()) else {
                continue;
            };
            let class_def = match kind.resolve(registry, &name, given) {
                Err(e) => {
                    out.errors.push(e);
                    continue;
                }
                Ok(_) if kind == Kind::Transformation => {
                    let plugin = registry.transformation(given).expect("resolved");
                    if let Some(e) = negate_without_predicate(props, &prefix) {
                        out.errors.push(e);
                    }
                    if let Some(e) = unlisted_predicate(props, &prefix, &predicates) {
                        out.errors.push(e);
                    }
                    transformation_keys(&plugin.create().config_def())
                }
                Ok(_) => registry
                    .predicate(given)
                    .expect("resolved")
                    .create()
                    .config_def(),
            };
            out.def = embed(std::mem::take(&mut out.def), &prefix, &group, &class_def, 1);
        }
    }
    out
}

/// One transform, with the predicate that decides whether it applies.
struct Stage {
    alias: String,
    class: &'static str,
    transform: Box<dyn Transformation>,
    condition: Option<Condition>,
}

struct Condition {
    predicate: Box<dyn Predicate>,
    negate: bool,
}

impl Stage {
    fn close(&mut self) {
        self.transform.close();
        if let Some(c) = self.condition.as_mut() {
            c.predicate.close();
        }
    }
}

/// A connector's transforms, in order, each configured; owned by one task.
pub struct TransformChain {
    stages: Vec<Stage>,
}

impl fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.stages.iter().map(|s| (&s.alias, s.class)))
            .finish()
    }
}

impl TransformChain {
    /// The chain a connector config describes, every transform and predicate made from
    /// `registry` and configured; the first config error, naming its key, otherwise.
    pub fn new(props: &Props, registry: &PluginRegistry) -> Result<Self, ChainConfigError> {
        let transforms = unique_list(props, Kind::Transformation)?;
        let predicates = unique_list(props, Kind::Predicate)?;
        // Built into the chain as they come, so that an error closes those already configured
        // (the chain closes its stages when dropped).
        let mut chain = TransformChain {
            stages: Vec::with_capacity(transforms.len()),
        };
        for alias in transforms {
            let stage = build_stage(props, registry, &alias, &predicates)?;
            chain.stages.push(stage);
        }
        Ok(chain)
    }

    /// Whether no transform is configured: the runtime then skips the chain altogether.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// How many transforms the chain holds.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Applies each transform in order to `record`, those with a predicate only where it
    /// matches (or, negated, where it does not); stops at the first that drops it.
    pub fn apply(&mut self, record: &mut dyn ConnectRecord) -> Result<Outcome, TransformFailure> {
        self.apply_from(record, 0)
    }

    /// [`apply`](TransformChain::apply) from the transform at `start` on: what is left of the
    /// chain once a failed transform was retried with success (Connect runs each transform as
    /// a stage of its own, so a retry repeats only the one that failed).
    pub fn apply_from(
        &mut self,
        record: &mut dyn ConnectRecord,
        start: usize,
    ) -> Result<Outcome, TransformFailure> {
        for index in start..self.stages.len() {
            match self.apply_stage(record, index)? {
                Outcome::Keep => {}
                Outcome::Drop => return Ok(Outcome::Drop),
            }
        }
        Ok(Outcome::Keep)
    }

    /// Applies the transform at `index` alone (where its predicate says so).
    pub fn apply_stage(
        &mut self,
        record: &mut dyn ConnectRecord,
        index: usize,
    ) -> Result<Outcome, TransformFailure> {
        let s = &mut self.stages[index];
        if let Some(c) = &s.condition {
            if c.predicate.test(record) == c.negate {
                return Ok(Outcome::Keep);
            }
        }
        s.transform.apply(record).map_err(|error| TransformFailure {
            alias: s.alias.clone(),
            class: s.class,
            index,
            error,
        })
    }

    /// Closes every transform and predicate (once: a closed chain is empty).
    pub fn close(&mut self) {
        for mut s in self.stages.drain(..) {
            s.close();
        }
    }
}

impl Drop for TransformChain {
    /// A task that fails still releases what its transforms hold.
    fn drop(&mut self) {
        self.close();
    }
}

fn required<'a>(props: &'a Props, key: &str) -> Result<&'a str, ChainConfigError> {
    props.get(key).map(|s| s.trim()).ok_or_else(|| {
        ChainConfigError::new(
            key,
            format!("Missing required configuration \"{key}\" which has no default value."),
        )
    })
}

fn build_stage(
    props: &Props,
    registry: &PluginRegistry,
    alias: &str,
    predicates: &[String],
) -> Result<Stage, ChainConfigError> {
    let kind = Kind::Transformation;
    let prefix = kind.prefix(alias);
    let type_key = format!("{prefix}{TYPE}");
    let class = kind.resolve(registry, &type_key, required(props, &type_key)?)?;
    let plugin = registry.transformation(class).expect("resolved");
    if let Some(e) = negate_without_predicate(props, &prefix) {
        return Err(e);
    }
    if let Some(e) = unlisted_predicate(props, &prefix, predicates) {
        return Err(e);
    }
    let mut transform = plugin.create();
    let keys = transformation_keys(&transform.config_def());
    check_keys(props, &prefix, &kind.alias_group(alias), &keys)?;
    let mut own = stripped(props, &prefix);
    let predicate = own.remove(PREDICATE);
    // Checked above as a BOOLEAN: anything but `true` (any case) is false.
    let negate = own
        .remove(NEGATE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    transform
        .configure(&own)
        .map_err(|e| configure_error(kind, alias, class, &type_key, e))?;
    let condition = match predicate {
        None => None,
        Some(p) => match build_predicate(props, registry, p.trim()) {
            Ok(predicate) => Some(Condition { predicate, negate }),
            Err(e) => {
                transform.close();
                return Err(e);
            }
        },
    };
    Ok(Stage {
        alias: alias.to_string(),
        class,
        transform,
        condition,
    })
}

fn build_predicate(
    props: &Props,
    registry: &PluginRegistry,
    alias: &str,
) -> Result<Box<dyn Predicate>, ChainConfigError> {
    let kind = Kind::Predicate;
    let prefix = kind.prefix(alias);
    let type_key = format!("{prefix}{TYPE}");
    let class = kind.resolve(registry, &type_key, required(props, &type_key)?)?;
    let mut predicate = registry.predicate(class).expect("resolved").create();
    check_keys(
        props,
        &prefix,
        &kind.alias_group(alias),
        &predicate.config_def(),
    )?;
    predicate
        .configure(&stripped(props, &prefix))
        .map_err(|e| configure_error(kind, alias, class, &type_key, e))?;
    Ok(predicate)
}

#[cfg(test)]
mod tests;
