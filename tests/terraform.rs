//! The Terraform, parsed with hcl-rs: the settings that matter for a safe, working deployment
//! are there (no AWS account is reachable here, so these checks are static; `make
//! check-terraform` adds `terraform fmt -check` and checkov).

use std::path::{Path, PathBuf};

use hcl::{Block, Body};

fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform")
}

/// Every `.tf` file of a module, parsed.
fn module(name: &str) -> Vec<Body> {
    let dir = terraform_dir().join("modules").join(name);
    let mut bodies = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let text = std::fs::read_to_string(&p).unwrap();
            bodies.push(hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
        }
    }
    assert!(!bodies.is_empty(), "no .tf files in {}", dir.display());
    bodies
}

fn blocks<'a>(bodies: &'a [Body], kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    bodies
        .iter()
        .flat_map(|b| b.blocks())
        .filter(move |b| b.identifier() == kind)
}

fn label(b: &Block, i: usize) -> &str {
    b.labels().get(i).map_or("", |l| l.as_str())
}

/// `resource "TYPE" "NAME"`.
fn resource<'a>(bodies: &'a [Body], ty: &str, name: &str) -> &'a Block {
    blocks(bodies, "resource")
        .find(|b| label(b, 0) == ty && label(b, 1) == name)
        .unwrap_or_else(|| panic!("no resource {ty}.{name}"))
}

fn resources<'a>(bodies: &'a [Body], ty: &'a str) -> Vec<&'a Block> {
    blocks(bodies, "resource").filter(|b| label(b, 0) == ty).collect()
}

/// An attribute's expression as HCL text.
fn attr(b: &Block, key: &str) -> Option<String> {
    b.body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr().to_string())
}

fn must(b: &Block, key: &str) -> String {
    attr(b, key).unwrap_or_else(|| panic!("{} {:?} has no {key}", b.identifier(), b.labels()))
}

fn variable<'a>(bodies: &'a [Body], name: &str) -> &'a Block {
    blocks(bodies, "variable")
        .find(|b| label(b, 0) == name)
        .unwrap_or_else(|| panic!("no variable {name}"))
}

/// The value an expression has with default inputs: a `var.x` reference is its default.
fn value(bodies: &[Body], expr: &str) -> String {
    let v = match expr.strip_prefix("var.") {
        Some(name) => must(variable(bodies, name), "default"),
        None => expr.to_string(),
    };
    v.trim_matches('"').to_string()
}

fn validated(bodies: &[Body], expr: &str) -> bool {
    expr.strip_prefix("var.").is_some_and(|name| {
        variable(bodies, name)
            .body()
            .blocks()
            .any(|b| b.identifier() == "validation")
    })
}

fn local(bodies: &[Body], name: &str) -> String {
    blocks(bodies, "locals")
        .find_map(|b| attr(b, name))
        .unwrap_or_else(|| panic!("no local {name}"))
}

#[test]
fn worker_invocations_are_not_retried_by_lambda_and_expire() {
    let m = module("functions");
    let configs = resources(&m, "aws_lambda_function_event_invoke_config");
    assert!(!configs.is_empty());
    for c in &configs {
        assert_eq!(must(c, "maximum_retry_attempts"), "0", "{:?}", c.labels());
        let age = must(c, "maximum_event_age_in_seconds");
        let secs: u64 = value(&m, &age).parse().unwrap();
        assert!((60..=300).contains(&secs), "maximum event age {secs}");
        assert!(validated(&m, &age), "{age} is validated");
    }
    let worker = resource(&m, "aws_lambda_function_event_invoke_config", "worker");
    assert!(must(worker, "function_name").contains("aws_lambda_function.worker"));
}

#[test]
fn worker_function_has_one_vcpu_30s_and_arm64() {
    let m = module("functions");
    let w = resource(&m, "aws_lambda_function", "worker");
    assert_eq!(value(&m, &must(w, "memory_size")), "1769");
    assert_eq!(value(&m, &must(w, "timeout")), "30");
    let arch = must(w, "architectures");
    let arch = arch.trim_matches(|c| c == '[' || c == ']').trim();
    assert_eq!(value(&m, arch), "arm64");
    assert_eq!(value(&m, &must(w, "runtime")), "provided.al2023");
    for f in resources(&m, "aws_lambda_function") {
        assert!(
            f.body().blocks().any(|b| b.identifier() == "vpc_config"),
            "{:?} runs in the VPC",
            f.labels()
        );
    }
}

#[test]
fn s3_gateway_endpoint_is_on_the_private_route_tables() {
    let m = module("network");
    let gw: Vec<&Block> = resources(&m, "aws_vpc_endpoint")
        .into_iter()
        .filter(|b| attr(b, "vpc_endpoint_type").as_deref() == Some("\"Gateway\""))
        .collect();
    assert_eq!(gw.len(), 1);
    assert!(
        must(gw[0], "service_name").ends_with(".s3\""),
        "{}",
        must(gw[0], "service_name")
    );
    let tables = must(gw[0], "route_table_ids");
    assert_eq!(tables, "local.private_route_table_ids");
    assert!(local(&m, "private_route_table_ids").contains("aws_route_table.private"));
    if let Some(count) = attr(gw[0], "count") {
        // Created unless turned off.
        let flag = count.split('?').next().unwrap().trim();
        assert_eq!(value(&m, flag), "true", "{count}");
    }
}

#[test]
fn redis_has_a_replica_failover_encryption_and_auth() {
    let m = module("redis");
    let rg = resources(&m, "aws_elasticache_replication_group");
    assert_eq!(rg.len(), 1);
    let rg = rg[0];
    for key in [
        "automatic_failover_enabled",
        "multi_az_enabled",
        "transit_encryption_enabled",
        "at_rest_encryption_enabled",
    ] {
        assert_eq!(must(rg, key), "true", "{key}");
    }
    assert!(must(rg, "auth_token").contains("random_password"));
    let n = must(rg, "num_cache_clusters");
    assert!(value(&m, &n).parse::<u32>().unwrap() >= 2);
    assert!(validated(&m, &n));
    let node = must(rg, "node_type");
    assert!(!value(&m, &node).starts_with("cache.t2"));
    assert!(validated(&m, &node), "the node type is validated (never t2)");
    let pg = resources(&m, "aws_elasticache_parameter_group");
    let policy = pg
        .iter()
        .flat_map(|p| p.body().blocks().filter(|b| b.identifier() == "parameter"))
        .find(|p| attr(p, "name").as_deref() == Some("\"maxmemory-policy\""))
        .expect("a maxmemory-policy parameter");
    assert_eq!(must(policy, "value"), "\"volatile-lru\"");
}

#[test]
fn iam_is_least_privilege() {
    let m = module("iam");
    let docs: Vec<&Block> = blocks(&m, "data")
        .filter(|b| label(b, 0) == "aws_iam_policy_document")
        .collect();
    assert!(docs.len() >= 3);
    let mut invoke_statements = 0;
    for d in &docs {
        for st in d.body().blocks().filter(|b| b.identifier() == "statement") {
            let actions = attr(st, "actions").unwrap_or_default();
            let resources = attr(st, "resources").unwrap_or_default();
            assert!(!actions.contains("\"s3:*\"") && !actions.contains("\"*\""), "{actions}");
            if actions.contains("\"s3:") {
                assert!(
                    !resources.contains("\"*\""),
                    "S3 actions on every resource: {resources}"
                );
                assert!(resources.starts_with("local.dataset_"), "{resources}");
            }
            // Only the worker reads parts (registration inspects them on workers too).
            if actions.contains("s3:GetObject") {
                assert_eq!(label(d, 1), "worker", "{actions}");
            }
            if actions.contains("lambda:InvokeFunction") {
                invoke_statements += 1;
                // The worker, and for POST /queries the invoker itself; nothing else.
                let allowed = ["local.worker_function_arn", "local.invoker_function_arn"];
                let listed: Vec<&str> = resources
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(str::trim)
                    .collect();
                assert!(listed.iter().all(|r| allowed.contains(r)), "{resources}");
                assert!(listed.contains(&"local.worker_function_arn"));
            }
        }
    }
    assert!(invoke_statements >= 1);
    assert!(local(&m, "worker_function_arn").contains("var.worker_function_name"));
    for a in resources(&m, "aws_iam_role_policy_attachment") {
        let arn = must(a, "policy_arn");
        assert!(!arn.contains("AmazonS3"), "no managed S3 policies: {arn}");
    }
}

#[test]
fn api_routes_require_authorization() {
    let m = module("api");
    let routes = resources(&m, "aws_apigatewayv2_route");
    assert!(!routes.is_empty());
    for r in routes {
        let auth = must(r, "authorization_type");
        assert_ne!(value(&m, &auth), "NONE");
        assert!(validated(&m, &auth));
        let v = variable(&m, auth.trim_start_matches("var."));
        let cond = v
            .body()
            .blocks()
            .find(|b| b.identifier() == "validation")
            .and_then(|b| attr(b, "condition"))
            .unwrap();
        assert!(
            cond.contains("\"AWS_IAM\"") && !cond.contains("contains([\"NONE\""),
            "{cond}"
        );
    }
    let stage = resources(&m, "aws_apigatewayv2_stage");
    assert!(stage
        .iter()
        .all(|s| s.body().blocks().any(|b| b.identifier() == "access_log_settings")));
    assert!(stage
        .iter()
        .all(|s| s.body().blocks().any(|b| b.identifier() == "default_route_settings")));
}

#[test]
fn every_module_has_its_files() {
    for name in ["network", "redis", "iam", "functions", "api", "bucket"] {
        for f in ["main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"] {
            assert!(
                terraform_dir().join("modules").join(name).join(f).exists(),
                "{name}/{f}"
            );
        }
    }
    for f in [
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "terraform.tfvars.example",
    ] {
        assert!(terraform_dir().join(f).exists(), "{f}");
    }
}

#[test]
fn register_dataset_sends_inspections_to_the_worker_function() {
    let m = module("functions");
    let dispatch = local(&m, "dispatch_environment");
    assert!(dispatch.contains("var.worker_function_name"), "{dispatch}");
    assert!(dispatch.contains("aws_lambda"), "{dispatch}");
    for env in ["invoker_environment", "register_environment"] {
        assert!(local(&m, env).contains("local.dispatch_environment"), "{env}");
    }
}

/// The deployed defaults trust no caller: the query-invoker's API has admin actions and error
/// details off unless the operator turns them on, registration (invoker and register-dataset)
/// may read only the dataset buckets, and the root passes exactly those buckets.
#[test]
fn deployed_api_defaults_are_secure() {
    let m = module("functions");
    let api = local(&m, "api_environment");
    for (var, input) in [
        ("FROCKET_APISERVER_ADMIN_ACTIONS", "api_admin_actions"),
        ("FROCKET_APISERVER_ERROR_DETAILS", "api_error_details"),
    ] {
        assert!(api.contains(var) && api.contains(&format!("var.{input}")), "{api}");
        assert_eq!(
            value(&m, &format!("var.{input}")),
            "false",
            "{input} must default to false"
        );
    }
    let invoker = local(&m, "invoker_environment");
    assert!(invoker.contains("local.api_environment"), "{invoker}");
    // extra_environment comes last (the operator's word wins), the secure settings before it.
    assert!(
        invoker.find("local.api_environment") < invoker.find("var.extra_environment"),
        "{invoker}"
    );
    for env in ["invoker_environment", "register_environment"] {
        assert!(local(&m, env).contains("local.allowed_basepaths_environment"), "{env}");
    }
    let allowed = local(&m, "allowed_basepaths_environment");
    assert!(
        allowed.contains("FROCKET_ALLOWED_BASEPATHS") && allowed.contains("var.allowed_basepaths"),
        "{allowed}"
    );
    assert!(
        attr(variable(&m, "allowed_basepaths"), "default").is_none(),
        "allowed_basepaths must be required"
    );
    assert!(validated(&m, "var.allowed_basepaths"));

    let root_text = std::fs::read_to_string(terraform_dir().join("main.tf")).unwrap();
    let root = [hcl::parse(&root_text).unwrap()];
    let call = blocks(&root, "module")
        .find(|b| label(b, 0) == "functions")
        .expect("module functions");
    let passed = must(call, "allowed_basepaths");
    assert!(
        passed.contains("local.dataset_bucket_names") && passed.contains("s3://"),
        "{passed}"
    );
    let root_vars_text = std::fs::read_to_string(terraform_dir().join("variables.tf")).unwrap();
    let root_vars = [hcl::parse(&root_vars_text).unwrap()];
    for input in ["api_admin_actions", "api_error_details"] {
        assert_eq!(must(call, input), format!("var.{input}"));
        assert_eq!(value(&root_vars, &format!("var.{input}")), "false");
    }
}

/// The Redis AUTH token is not in the functions' configuration: they get the secret's ARN,
/// every role may read that secret and no other, and the root always creates it.
#[test]
fn redis_auth_token_comes_from_secrets_manager() {
    let f = module("functions");
    let auth = local(&f, "redis_auth_environment");
    assert!(
        auth.contains("FROCKET_REDIS_AUTH_SECRET_ARN") && auth.contains("var.redis_auth_secret_arn"),
        "{auth}"
    );
    for name in [
        "common_environment",
        "worker_environment",
        "invoker_environment",
        "register_environment",
        "redis_auth_environment",
    ] {
        assert!(
            !local(&f, name).contains("FROCKET_REDIS_AUTH_TOKEN"),
            "{name} sets the token"
        );
    }
    assert!(blocks(&f, "variable").all(|v| label(v, 0) != "redis_auth_token"));

    let iam = module("iam");
    let doc = blocks(&iam, "data")
        .find(|b| label(b, 0) == "aws_iam_policy_document" && label(b, 1) == "redis_secret")
        .expect("a policy for the secret");
    let statement = doc
        .body()
        .blocks()
        .find(|b| b.identifier() == "statement")
        .expect("a statement");
    let squash = |e: String| e.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(
        squash(must(statement, "actions")),
        r#"["secretsmanager:GetSecretValue"]"#
    );
    assert_eq!(squash(must(statement, "resources")), "[var.redis_auth_secret_arn]");
    let policy = resource(&iam, "aws_iam_role_policy", "redis_secret");
    assert_eq!(must(policy, "for_each"), "local.roles");

    let root_text = std::fs::read_to_string(terraform_dir().join("main.tf")).unwrap();
    let root = [hcl::parse(&root_text).unwrap()];
    let redis = blocks(&root, "module").find(|b| label(b, 0) == "redis").unwrap();
    assert_eq!(must(redis, "create_auth_secret"), "true");
    for m in ["functions", "iam"] {
        let call = blocks(&root, "module").find(|b| label(b, 0) == m).unwrap();
        assert_eq!(
            must(call, "redis_auth_secret_arn"),
            "module.redis.auth_secret_arn",
            "{m}"
        );
    }
}
