output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_url" {
  description = "Base URL of the API (default stage), e.g. https://ID.execute-api.REGION.amazonaws.com."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API (for execute-api:Invoke policies)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "caller_policy_arn" {
  description = "ARN of the IAM policy that allows calling the API, or null when create_caller_policy is false."
  value       = one(aws_iam_policy.caller[*].arn)
}

output "access_log_group_name" {
  description = "CloudWatch log group of the access logs."
  value       = aws_cloudwatch_log_group.access.name
}
