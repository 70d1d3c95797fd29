# Funnel Rocket on AWS: network, Redis, IAM, the three Lambda functions, the HTTP API and
# (optionally) a dataset bucket. See README.md and ../docs/deploy.md.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "current" {}

locals {
  worker_function_name   = "${var.name_prefix}-worker"
  invoker_function_name  = "${var.name_prefix}-query-invoker"
  register_function_name = "${var.name_prefix}-register-dataset"

  worker_zip_path   = coalesce(var.worker_zip_path, "${var.lambda_build_dir}/worker/bootstrap.zip")
  invoker_zip_path  = coalesce(var.invoker_zip_path, "${var.lambda_build_dir}/query-invoker/bootstrap.zip")
  register_zip_path = coalesce(var.register_zip_path, "${var.lambda_build_dir}/register-dataset/bootstrap.zip")

  dataset_bucket_name  = coalesce(var.dataset_bucket_name, "${var.name_prefix}-datasets-${data.aws_caller_identity.current.account_id}")
  created_bucket_names = var.create_dataset_bucket ? [local.dataset_bucket_name] : []
  created_bucket_keys  = var.create_dataset_bucket && var.dataset_bucket_kms_key_arn != null ? [var.dataset_bucket_kms_key_arn] : []

  # Every bucket the functions may read: the one created here and the ones passed in.
  dataset_bucket_names = distinct(concat(local.created_bucket_names, var.dataset_bucket_names))
  dataset_kms_key_arns = distinct(concat(local.created_bucket_keys, var.dataset_kms_key_arns))
}

module "network" {
  source = "./modules/network"

  name                               = var.name_prefix
  vpc_id                             = var.vpc_id
  private_subnet_ids                 = var.private_subnet_ids
  private_route_table_ids            = var.private_route_table_ids
  vpc_cidr                           = var.vpc_cidr
  az_count                           = var.az_count
  availability_zones                 = var.availability_zones
  create_s3_endpoint                 = var.create_s3_endpoint
  interface_endpoint_services        = var.interface_endpoint_services
  functions_https_egress_cidr_blocks = var.functions_https_egress_cidr_blocks
  enable_flow_logs                   = var.enable_flow_logs
  log_retention_days                 = var.log_retention_days
  log_kms_key_arn                    = var.log_kms_key_arn
}

module "redis" {
  source = "./modules/redis"

  name               = var.name_prefix
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.redis_security_group_id]
  node_type          = var.redis_node_type
  num_cache_clusters = var.redis_num_cache_clusters
  engine_version     = var.redis_engine_version
  kms_key_arn        = var.redis_kms_key_arn
  # The functions read the AUTH token from this secret (never from their environment).
  create_auth_secret = true
  secret_kms_key_arn = var.redis_secret_kms_key_arn
}

module "dataset_bucket" {
  source = "./modules/bucket"
  count  = var.create_dataset_bucket ? 1 : 0

  bucket_name   = local.dataset_bucket_name
  force_destroy = var.dataset_bucket_force_destroy
  kms_key_arn   = var.dataset_bucket_kms_key_arn
}

module "iam" {
  source = "./modules/iam"

  worker_function_name          = local.worker_function_name
  invoker_function_name         = local.invoker_function_name
  register_function_name        = local.register_function_name
  dataset_bucket_names          = local.dataset_bucket_names
  dataset_kms_key_arns          = local.dataset_kms_key_arns
  attach_xray_policy            = var.tracing_mode == "Active"
  redis_auth_secret_arn         = module.redis.auth_secret_arn
  redis_auth_secret_kms_key_arn = var.redis_secret_kms_key_arn
  permissions_boundary_arn      = var.permissions_boundary_arn
}

module "functions" {
  source = "./modules/functions"

  worker_function_name   = local.worker_function_name
  invoker_function_name  = local.invoker_function_name
  register_function_name = local.register_function_name

  worker_role_arn   = module.iam.worker_role_arn
  invoker_role_arn  = module.iam.invoker_role_arn
  register_role_arn = module.iam.register_role_arn

  worker_zip_path   = local.worker_zip_path
  invoker_zip_path  = local.invoker_zip_path
  register_zip_path = local.register_zip_path
  architecture      = var.architecture

  worker_memory_mb            = var.worker_memory_mb
  worker_timeout              = var.worker_timeout
  worker_reserved_concurrency = var.worker_reserved_concurrency
  max_event_age_seconds       = var.max_event_age_seconds
  invoker_memory_mb           = var.invoker_memory_mb
  invoker_timeout             = var.invoker_timeout
  register_timeout            = var.register_timeout

  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.functions_security_group_id]

  redis_host            = module.redis.primary_endpoint_address
  redis_port            = module.redis.port
  redis_tls             = true
  redis_auth_secret_arn = module.redis.auth_secret_arn

  invoker_lambda_concurrency = var.invoker_lambda_concurrency
  invoker_run_timeout        = var.invoker_run_timeout
  allowed_basepaths          = [for b in local.dataset_bucket_names : "s3://${b}"]
  api_admin_actions          = var.api_admin_actions
  api_error_details          = var.api_error_details
  worker_disk_cache_size_mb  = var.worker_disk_cache_size_mb
  log_level                  = var.log_level
  extra_environment          = var.extra_environment

  kms_key_arn        = var.lambda_kms_key_arn
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.log_kms_key_arn
  tracing_mode       = var.tracing_mode
}

module "api" {
  source = "./modules/api"

  name                   = var.name_prefix
  invoker_function_name  = module.functions.invoker_function_name
  invoker_invoke_arn     = module.functions.invoker_invoke_arn
  authorization_type     = var.api_authorization_type
  jwt_issuer             = var.jwt_issuer
  jwt_audience           = var.jwt_audience
  throttling_burst_limit = var.api_throttling_burst_limit
  throttling_rate_limit  = var.api_throttling_rate_limit
  log_retention_days     = var.log_retention_days
  log_kms_key_arn        = var.log_kms_key_arn
}
