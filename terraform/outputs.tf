output "api_url" {
  description = "Base URL of the HTTP API (SigV4-signed requests with AWS_IAM authorization)."
  value       = module.api.api_url
}

output "api_caller_policy_arn" {
  description = "IAM policy allowing execute-api:Invoke on the API: attach it to whoever calls the API."
  value       = module.api.caller_policy_arn
}

output "function_names" {
  description = "Function names by cargo-lambda output directory (worker, query-invoker, register-dataset); make deploy-code reads this."
  value       = module.functions.function_names
}

output "function_arns" {
  description = "Function ARNs by cargo-lambda output directory."
  value       = module.functions.function_arns
}

output "log_group_names" {
  description = "CloudWatch log groups of the functions and of the API access logs."
  value       = merge(module.functions.log_group_names, { api-access = module.api.access_log_group_name })
}

output "redis_primary_endpoint" {
  description = "Redis primary endpoint (reachable from inside the VPC only)."
  value       = module.redis.primary_endpoint_address
}

output "redis_port" {
  description = "Redis port."
  value       = module.redis.port
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager secret with the Redis host, port and AUTH token (null when not created)."
  value       = module.redis.auth_secret_arn
}

output "dataset_bucket_name" {
  description = "Name of the dataset bucket created here (null when create_dataset_bucket is false)."
  value       = one(module.dataset_bucket[*].bucket_name)
}

output "dataset_bucket_names" {
  description = "Every bucket the functions may read datasets from."
  value       = local.dataset_bucket_names
}

output "vpc_id" {
  description = "VPC of the functions and Redis."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the functions and Redis."
  value       = module.network.private_subnet_ids
}

output "functions_security_group_id" {
  description = "Security group of the functions (give it to a host in the VPC that runs the CLI against Redis)."
  value       = module.network.functions_security_group_id
}

output "cli_environment" {
  description = "Environment for the frocket CLI to use this deployment (run it inside the VPC: Redis is private). Export with: terraform output -json cli_environment."
  sensitive   = true
  value = {
    FROCKET_REDIS_HOST          = module.redis.primary_endpoint_address
    FROCKET_REDIS_PORT          = tostring(module.redis.port)
    FROCKET_REDIS_TLS           = "true"
    FROCKET_REDIS_AUTH_TOKEN    = module.redis.auth_token
    FROCKET_INVOKER             = "aws_lambda"
    FROCKET_INVOKER_LAMBDA_NAME = module.functions.worker_function_name
    AWS_REGION                  = var.region
  }
}
