use super::*;

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Providers `file`, `dir` and `env` (with `env` as the environment), plus `extra` keys.
fn providers(extra: &[(&str, &str)], env: &[(&str, &str)]) -> ConfigProviders {
    let mut worker = props(&[
        ("config.providers", "file, dir,env"),
        ("config.providers.file.class", FILE_CONFIG_PROVIDER),
        ("config.providers.dir.class", "DirectoryConfigProvider"),
        ("config.providers.env.class", "EnvVar"),
    ]);
    worker.extend(props(extra));
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    ConfigProviders::with_env(&worker, env).unwrap()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn variables_are_split_as_connects_pattern_splits_them() {
    let parts = |v: &str| -> Vec<(String, String, String)> {
        variables(v)
            .map(|x| (x.provider.into(), x.path.into(), x.key.into()))
            .collect()
    };
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(parts("${env:HOME}"), vec![t("env", "", "HOME")]);
    assert_eq!(
        parts("${file:/etc/kafka/secrets.properties:ssl.key.password}"),
        vec![t(
            "file",
            "/etc/kafka/secrets.properties",
            "ssl.key.password"
        )]
    );
    // The first colon after the provider ends the path; the key keeps the rest.
    assert_eq!(parts("${file:/a:b:c}"), vec![t("file", "/a", "b:c")]);
    assert_eq!(parts("${env::X}"), vec![t("env", "", "X")]);
    assert_eq!(
        parts("user=${env:U} pass=${file:/p:pw};"),
        vec![t("env", "", "U"), t("file", "/p", "pw")]
    );
    assert!(parts("${novariable}").is_empty());
    assert!(parts("$ {env:X} {env:X}").is_empty());
}

#[test]
fn file_variables_resolve_in_place_and_unknown_providers_stay_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "secrets.properties",
        "# comment\nuser = alice\npassword=p4ss\\\n  word\nkey\\:with\\:colons=v\n",
    );
    let p = providers(&[], &[("TOPIC", "orders")]);
    let raw = props(&[
        (
            "sasl.jaas.config",
            &format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"${{file:{file}:user}}\" password=\"${{file:{file}:password}}\";"
            ),
        ),
        ("colons", &format!("${{file:{file}:key:with:colons}}")),
        ("topic", "${env:TOPIC}-v1"),
        ("vault", "${vault:secret/db:password}"),
        ("plain", "no variables"),
    ]);
    let r = p.resolve(&raw);
    assert_eq!(r.errors, vec![]);
    assert_eq!(
        r.props["sasl.jaas.config"],
        "org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"alice\" password=\"p4ssword\";"
    );
    // A key is escaped in the file as properties files escape it, and written plain in the
    // variable: everything after the path's colon is the key.
    assert_eq!(r.props["colons"], "v");
    assert_eq!(r.props["topic"], "orders-v1");
    assert_eq!(r.props["vault"], "${vault:secret/db:password}");
    assert_eq!(r.props["plain"], "no variables");
}

#[test]
fn what_cannot_be_resolved_is_an_error_naming_key_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.properties", "present=topsecret-value-1\n");
    let p = providers(&[], &[]);
    let missing_key = format!("${{file:{file}:absent}}");
    let missing_file = format!(
        "${{file:{dir}/nope.properties:k}}",
        dir = dir.path().display()
    );
    let raw = props(&[
        ("a.password", &format!("${{file:{file}:present}}")),
        ("b.password", &missing_key),
        ("c.password", &missing_file),
        ("d", "${env:NOT_SET_ANYWHERE}"),
        ("e", "${file:just-a-key}"),
    ]);
    let r = p.resolve(&raw);
    let by_key: BTreeMap<&str, &ResolveError> =
        r.errors.iter().map(|e| (e.key.as_str(), e)).collect();
    assert_eq!(by_key.len(), 4, "{:?}", r.errors);
    assert_eq!(
        by_key["b.password"].to_string(),
        format!("Invalid value {missing_key} for configuration b.password: no key absent in the properties file {file}")
    );
    let c = by_key["c.password"].to_string();
    assert!(
        c.starts_with(&format!(
            "Invalid value {missing_file} for configuration c.password: Could not read \
             properties from file {}/nope.properties: ",
            dir.path().display()
        )),
        "{c}"
    );
    assert_eq!(
        by_key["d"].to_string(),
        "Invalid value ${env:NOT_SET_ANYWHERE} for configuration d: no environment variable \
         NOT_SET_ANYWHERE (or it does not match config.providers.env.param.allowlist.pattern)"
    );
    assert_eq!(
        by_key["e"].to_string(),
        "Invalid value ${file:just-a-key} for configuration e: FileConfigProvider needs a \
         file: ${provider:path:key}"
    );
    // The unresolved variables stay as written; what resolved is resolved; no error names a
    // resolved value.
    assert_eq!(r.props["b.password"], missing_key);
    assert_eq!(r.props["a.password"], "topsecret-value-1");
    assert!(r
        .errors
        .iter()
        .all(|e| !e.to_string().contains("topsecret")));
    let first = r.clone().strict().unwrap_err();
    assert_eq!(first.key, "b.password");
}

#[test]
fn allowed_paths_confine_the_file_and_directory_providers() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    let inside = write(&allowed, "in.properties", "k=inside\n");
    let outside = write(dir.path(), "out.properties", "k=outside\n");
    let allowed_s = allowed.to_str().unwrap();
    let p = providers(
        &[
            (
                "config.providers.file.param.allowed.paths",
                &format!(" {allowed_s} ,{allowed_s}/./x/.."),
            ),
            ("config.providers.dir.param.allowed.paths", allowed_s),
        ],
        &[],
    );
    let sneaky = format!("{allowed_s}/../out.properties");
    let r = p.resolve(&props(&[
        ("in", &format!("${{file:{inside}:k}}")),
        ("out", &format!("${{file:{outside}:k}}")),
        ("sneaky", &format!("${{file:{sneaky}:k}}")),
        (
            "dir",
            &format!("${{dir:{}:out.properties}}", dir.path().display()),
        ),
    ]));
    assert_eq!(r.props["in"], "inside");
    let errors: BTreeMap<&str, String> = r
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.to_string()))
        .collect();
    assert_eq!(
        errors["out"],
        format!("The path {outside} is not allowed by config.providers.file.param.allowed.paths")
    );
    // The reason is a type a caller can match, with the provider and the path as written.
    let out = r.errors.iter().find(|e| e.key == "out").unwrap();
    assert_eq!(
        out.reason,
        Unresolved::PathNotAllowed {
            provider: "file".into(),
            path: outside.clone(),
        }
    );
    assert_eq!(
        errors["sneaky"],
        format!("The path {sneaky} is not allowed by config.providers.file.param.allowed.paths")
    );
    assert_eq!(
        errors["dir"],
        format!(
            "The path {} is not allowed by config.providers.dir.param.allowed.paths",
            dir.path().display()
        )
    );

    // Connect's checks of the parameter itself.
    let bad = |value: &str| {
        let worker = props(&[
            ("config.providers", "file"),
            ("config.providers.file.class", "FileConfigProvider"),
            ("config.providers.file.param.allowed.paths", value),
        ]);
        ConfigProviders::with_env(&worker, [])
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad("relative/dir"),
        "Invalid value relative/dir for configuration \
         config.providers.file.param.allowed.paths: Path relative/dir is not absolute"
    );
    assert_eq!(
        bad("/no/such/dir/../dir2"),
        "Invalid value /no/such/dir/../dir2 for configuration \
         config.providers.file.param.allowed.paths: Path /no/such/dir2 does not exist"
    );
}

#[test]
fn the_directory_provider_reads_whole_files_and_follows_links() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "password", "s3cret\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "hidden", "x");
    std::os::unix::fs::symlink(dir.path().join("password"), dir.path().join("linked")).unwrap();
    let d = dir.path().display();
    let p = providers(&[], &[]);
    let r = p.resolve(&props(&[
        ("a", &format!("${{dir:{d}:password}}")),
        ("b", &format!("${{dir:{d}:linked}}")),
        ("c", &format!("${{dir:{d}:sub/hidden}}")),
        ("d", &format!("${{dir:{d}:sub}}")),
        ("e", &format!("${{dir:{d}/password:x}}")),
    ]));
    // The file's bytes as they are, newline included, as Connect reads them.
    assert_eq!(r.props["a"], "s3cret\n");
    assert_eq!(r.props["b"], "s3cret\n");
    let errors: BTreeMap<&str, String> = r
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.to_string()))
        .collect();
    assert_eq!(
        errors["c"],
        format!("no file sub/hidden in the directory {d}")
    );
    assert_eq!(errors["d"], format!("no file sub in the directory {d}"));
    assert_eq!(
        errors["e"],
        format!("The path {d}/password is not a directory")
    );
}

#[test]
fn the_env_provider_hands_out_only_what_its_allowlist_matches() {
    let env = [
        ("KC_PASSWORD", "from-env"),
        ("KC_USER", "bob"),
        ("HOME", "/root"),
    ];
    let p = providers(
        &[("config.providers.env.param.allowlist.pattern", "KC_.*")],
        &env,
    );
    let r = p.resolve(&props(&[
        ("a", "${env:KC_PASSWORD}"),
        ("b", "${env:HOME}"),
        ("c", "${env:/some/path:KC_USER}"),
    ]));
    assert_eq!(r.props["a"], "from-env");
    let errors: BTreeMap<&str, String> = r
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.to_string()))
        .collect();
    assert_eq!(
        errors["b"],
        "no environment variable HOME (or it does not match \
         config.providers.env.param.allowlist.pattern)"
    );
    assert_eq!(
        errors["c"],
        "Path is not supported for EnvVarConfigProvider, invalid value '/some/path'"
    );
    // A full match, as Java's Matcher.matches: "KC_" alone does not allow KC_USER.
    let p = providers(
        &[("config.providers.env.param.allowlist.pattern", "KC_")],
        &env,
    );
    assert_eq!(
        p.resolve(&props(&[("a", "${env:KC_USER}")])).errors.len(),
        1
    );
    let worker = props(&[
        ("config.providers", "env"),
        ("config.providers.env.class", ENV_VAR_CONFIG_PROVIDER),
        ("config.providers.env.param.allowlist.pattern", "(unclosed"),
    ]);
    let e = ConfigProviders::with_env(&worker, [])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "Invalid value (unclosed for configuration config.providers.env.param.allowlist.pattern: "
        ),
        "{e}"
    );
}

#[test]
fn provider_classes_are_found_by_class_name_or_alias() {
    for class in [
        FILE_CONFIG_PROVIDER,
        "FileConfigProvider",
        "File",
        " org.apache.kafka.common.config.provider.FileConfigProvider ",
    ] {
        assert_eq!(provider_kind(class), Some(Kind::File), "{class}");
    }
    assert_eq!(
        provider_kind(DIRECTORY_CONFIG_PROVIDER),
        Some(Kind::Directory)
    );
    assert_eq!(provider_kind("Directory"), Some(Kind::Directory));
    assert_eq!(provider_kind("EnvVarConfigProvider"), Some(Kind::EnvVar));
    let worker = props(&[
        ("config.providers", "vault,nameonly"),
        (
            "config.providers.vault.class",
            "com.example.VaultConfigProvider",
        ),
    ]);
    assert_eq!(
        ConfigProviders::with_env(&worker, []).unwrap_err(),
        ProviderConfigError::UnknownClass {
            key: "config.providers.vault.class".into(),
            class: "com.example.VaultConfigProvider".into()
        }
    );
    // A name without a class is no provider, as in Connect: its variables stay as written.
    let worker = props(&[("config.providers", "nameonly")]);
    let p = ConfigProviders::with_env(&worker, []).unwrap();
    assert!(p.is_empty());
    let r = p.resolve(&props(&[("k", "${nameonly:x}")]));
    assert_eq!(
        (r.props["k"].as_str(), r.errors.len()),
        ("${nameonly:x}", 0)
    );
}

#[test]
fn task_configs_get_the_connectors_variables_back() {
    let raw = props(&[
        ("file", "${file:/s.properties:path}"),
        ("topic", "t"),
        ("batch.size", "${env:BATCH}"),
    ]);
    let generated = vec![
        props(&[
            ("file", "/resolved/path"),
            ("topic", "t"),
            ("task.class", "X"),
        ]),
        props(&[("topic", "t")]),
    ];
    assert_eq!(
        reverse_transform(&raw, generated),
        vec![
            props(&[
                ("file", "${file:/s.properties:path}"),
                ("topic", "t"),
                ("task.class", "X")
            ]),
            props(&[("topic", "t")]),
        ]
    );
}

#[test]
fn resolved_values_are_hidden_in_free_text_once_resolved() {
    let p = providers(
        &[],
        &[("PW_LONG", "hunter2-unique-7f3a"), ("PW_SHORT", "abc")],
    );
    let text = "login failed for hunter2-unique-7f3a and abc";
    assert_eq!(
        hide_secrets(text),
        text,
        "nothing is known before it is resolved"
    );
    let r = p.resolve(&props(&[("a", "${env:PW_LONG}"), ("b", "${env:PW_SHORT}")]));
    assert!(r.errors.is_empty());
    assert_eq!(hide_secrets(text), "login failed for [hidden] and abc");
    assert!(matches!(hide_secrets("nothing here"), Cow::Borrowed(_)));
}

#[test]
fn normalize_is_lexical_like_javas() {
    assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
    assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
}

#[test]
fn a_worker_config_resolves_its_own_variables_when_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "w.properties", "flush=250\npw=worker-pw-93b1\n");
    let worker = |flush: &str| {
        props(&[
            ("config.providers", "file"),
            ("config.providers.file.class", "FileConfigProvider"),
            (
                "offset.flush.interval.ms",
                &format!("${{file:{file}:{flush}}}"),
            ),
            ("producer.ssl.key.password", &format!("${{file:{file}:pw}}")),
        ])
    };
    let w = crate::config::WorkerConfig::parse(worker("flush")).unwrap();
    assert_eq!(
        w.offset_flush_interval,
        std::time::Duration::from_millis(250)
    );
    assert_eq!(w.props["producer.ssl.key.password"], "worker-pw-93b1");
    assert_eq!(format!("{:?}", w.providers), "{\"file\"}");
    let e = crate::config::WorkerConfig::parse(worker("nope")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "invalid config: Invalid value ${{file:{file}:nope}} for configuration \
             offset.flush.interval.ms: \
             no key nope in the properties file {file}"
        )
    );
    let mut unknown = worker("flush");
    unknown.insert("config.providers.file.class".into(), "Vault".into());
    let e = crate::config::WorkerConfig::parse(unknown)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Invalid value Vault for configuration config.providers.file.class"),
        "{e}"
    );
}
