# The three Funnel Rocket Lambda functions (cargo-lambda zips, runtime provided.al2023, handler
# bootstrap), their log groups and the asynchronous invocation settings.

locals {
  # Read by all three functions (operations.md, "Configuration").
  common_environment = {
    FROCKET_REDIS_HOST          = var.redis_host
    FROCKET_REDIS_PORT          = tostring(var.redis_port)
    FROCKET_REDIS_TLS           = var.redis_tls ? "true" : "false"
    FROCKET_INVOKER_RUN_TIMEOUT = tostring(var.invoker_run_timeout)
    FROCKET_LOG_FORMAT          = var.log_format
    FROCKET_LOG_LEVEL           = var.log_level
  }

  # The AUTH token itself never goes into the functions' configuration: they read it from this
  # Secrets Manager secret once per cold start (their roles may read that secret only).
  redis_auth_environment = { FROCKET_REDIS_AUTH_SECRET_ARN = var.redis_auth_secret_arn }

  worker_environment = merge(local.common_environment, local.redis_auth_environment, {
    FROCKET_WORKER_DISK_CACHE_SIZE_MB = tostring(var.worker_disk_cache_size_mb)
  }, var.extra_environment)

  # The invoker and register-dataset both send tasks to the worker function.
  dispatch_environment = {
    FROCKET_INVOKER                    = "aws_lambda"
    FROCKET_INVOKER_LAMBDA_NAME        = var.worker_function_name
    FROCKET_INVOKER_LAMBDA_CONCURRENCY = tostring(var.invoker_lambda_concurrency)
  }

  # Registration reads only from the dataset buckets (FROCKET_ALLOWED_BASEPATHS).
  allowed_basepaths_environment = { FROCKET_ALLOWED_BASEPATHS = join(",", var.allowed_basepaths) }

  # The public API: no admin actions and no internal details unless the operator turns them on
  # (registration goes through the register-dataset function).
  api_environment = {
    FROCKET_APISERVER_ADMIN_ACTIONS = var.api_admin_actions ? "true" : "false"
    FROCKET_APISERVER_ERROR_DETAILS = var.api_error_details ? "true" : "false"
  }

  invoker_environment = merge(local.common_environment, local.redis_auth_environment, local.dispatch_environment, local.allowed_basepaths_environment, local.api_environment, var.extra_environment)

  register_environment = merge(local.common_environment, local.redis_auth_environment, local.dispatch_environment, local.allowed_basepaths_environment, var.extra_environment)

  # Terraform 1.0 validation blocks see only their own variable: these fail the plan with a
  # readable message when two settings contradict each other.
  check_invoker_timeout = var.invoker_timeout > var.invoker_run_timeout ? true : tobool("The invoker_timeout must exceed invoker_run_timeout: an asynchronous query runs within one invocation.")
  check_disk_cache      = var.worker_disk_cache_size_mb < var.worker_ephemeral_storage_mb ? true : tobool("The worker_disk_cache_size_mb must be below worker_ephemeral_storage_mb (the part being read needs room too).")
}

################################################################################
# Log groups (created before the functions so Lambda does not create them without retention)
################################################################################

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_338:Query logs are operational, not audit records: 30 days by default (var.log_retention_days) keeps storage cheap.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed key is optional (var.log_kms_key_arn).
  name              = "/aws/lambda/${var.worker_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "invoker" {
  #checkov:skip=CKV_AWS_338:Query logs are operational, not audit records: 30 days by default (var.log_retention_days) keeps storage cheap.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed key is optional (var.log_kms_key_arn).
  name              = "/aws/lambda/${var.invoker_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "register" {
  #checkov:skip=CKV_AWS_338:Query logs are operational, not audit records: 30 days by default (var.log_retention_days) keeps storage cheap.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed key is optional (var.log_kms_key_arn).
  name              = "/aws/lambda/${var.register_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

################################################################################
# worker: one task (one part) per asynchronous invocation
################################################################################

resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:No DLQ: asynchronous retries are off and the invoker tracks every attempt in Redis and retries it; a dead-lettered task would be stale and never replayed.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built and deployed by the same operator (make build / make deploy-code).
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (var.worker_reserved_concurrency, default unreserved): the invoker already bounds in-flight invocations (FROCKET_INVOKER_LAMBDA_CONCURRENCY) and new accounts cannot reserve any.
  #checkov:skip=CKV_AWS_173:Environment variables are encrypted at rest with the AWS managed Lambda key; a customer managed key is optional (var.kms_key_arn).
  function_name = var.worker_function_name
  description   = "Funnel Rocket worker: runs one query task over one dataset part"
  role          = var.worker_role_arn

  filename         = var.worker_zip_path
  source_code_hash = filebase64sha256(var.worker_zip_path)
  runtime          = var.runtime
  handler          = var.handler
  architectures    = [var.architecture]

  memory_size                    = var.worker_memory_mb
  timeout                        = var.worker_timeout
  reserved_concurrent_executions = var.worker_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = var.worker_ephemeral_storage_mb
  }

  environment {
    variables = local.worker_environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.worker]
}

# The invoker retries failed and lost tasks itself: Lambda must not retry, and an event older
# than a few minutes belongs to a query that has given up on it.
resource "aws_lambda_function_event_invoke_config" "worker" {
  function_name                = aws_lambda_function.worker.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = var.max_event_age_seconds
}

################################################################################
# query-invoker: behind API Gateway; also runs POST /queries in an async self-invocation
################################################################################

resource "aws_lambda_function" "invoker" {
  #checkov:skip=CKV_AWS_116:No DLQ: an asynchronous query that fails records its failure in Redis, where the client polls it; a dead-lettered query would never be replayed.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built and deployed by the same operator (make build / make deploy-code).
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (var.invoker_reserved_concurrency, default unreserved); API Gateway stage throttling bounds the request rate.
  #checkov:skip=CKV_AWS_173:Environment variables are encrypted at rest with the AWS managed Lambda key; a customer managed key is optional (var.kms_key_arn).
  function_name = var.invoker_function_name
  description   = "Funnel Rocket query invoker: the HTTP API behind API Gateway"
  role          = var.invoker_role_arn

  filename         = var.invoker_zip_path
  source_code_hash = filebase64sha256(var.invoker_zip_path)
  runtime          = var.runtime
  handler          = var.handler
  architectures    = [var.architecture]

  memory_size                    = var.invoker_memory_mb
  timeout                        = var.invoker_timeout
  reserved_concurrent_executions = var.invoker_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = var.invoker_ephemeral_storage_mb
  }

  environment {
    variables = local.invoker_environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.invoker]
}

# Asynchronous queries (its own invocations): a retry would run the whole query again.
resource "aws_lambda_function_event_invoke_config" "invoker" {
  function_name                = aws_lambda_function.invoker.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = var.max_event_age_seconds
}

################################################################################
# register-dataset: event = the register body of api.md (invoked synchronously)
################################################################################

resource "aws_lambda_function" "register" {
  #checkov:skip=CKV_AWS_116:No DLQ: the function is invoked synchronously (aws lambda invoke) and answers its caller; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built and deployed by the same operator (make build / make deploy-code).
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (var.register_reserved_concurrency, default unreserved): registrations are rare operator actions.
  #checkov:skip=CKV_AWS_173:Environment variables are encrypted at rest with the AWS managed Lambda key; a customer managed key is optional (var.kms_key_arn).
  function_name = var.register_function_name
  description   = "Funnel Rocket dataset registration"
  role          = var.register_role_arn

  filename         = var.register_zip_path
  source_code_hash = filebase64sha256(var.register_zip_path)
  runtime          = var.runtime
  handler          = var.handler
  architectures    = [var.architecture]

  memory_size                    = var.register_memory_mb
  timeout                        = var.register_timeout
  reserved_concurrent_executions = var.register_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = var.register_ephemeral_storage_mb
  }

  environment {
    variables = local.register_environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.register]
}
