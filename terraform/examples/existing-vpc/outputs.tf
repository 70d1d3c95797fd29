output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.frocket.api_url
}

output "function_names" {
  description = "Function names by cargo-lambda output directory."
  value       = module.frocket.function_names
}

output "redis_primary_endpoint" {
  description = "Redis primary endpoint (inside the VPC)."
  value       = module.frocket.redis_primary_endpoint
}

output "cli_environment" {
  description = "Environment for the frocket CLI (run inside the VPC)."
  value       = module.frocket.cli_environment
  sensitive   = true
}
