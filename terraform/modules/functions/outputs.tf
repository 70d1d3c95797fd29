output "function_names" {
  description = "Function names, keyed like the cargo-lambda output directories (worker, query-invoker, register-dataset)."
  value = {
    worker           = aws_lambda_function.worker.function_name
    query-invoker    = aws_lambda_function.invoker.function_name
    register-dataset = aws_lambda_function.register.function_name
  }
}

output "function_arns" {
  description = "Function ARNs, keyed like function_names."
  value = {
    worker           = aws_lambda_function.worker.arn
    query-invoker    = aws_lambda_function.invoker.arn
    register-dataset = aws_lambda_function.register.arn
  }
}

output "worker_function_name" {
  description = "Name of the worker function (FROCKET_INVOKER_LAMBDA_NAME)."
  value       = aws_lambda_function.worker.function_name
}

output "invoker_function_name" {
  description = "Name of the query-invoker function."
  value       = aws_lambda_function.invoker.function_name
}

output "invoker_invoke_arn" {
  description = "Invoke ARN of the query-invoker function, for the API Gateway integration."
  value       = aws_lambda_function.invoker.invoke_arn
}

output "register_function_name" {
  description = "Name of the register-dataset function."
  value       = aws_lambda_function.register.function_name
}

output "log_group_names" {
  description = "CloudWatch log groups of the functions, keyed like function_names."
  value = {
    worker           = aws_cloudwatch_log_group.worker.name
    query-invoker    = aws_cloudwatch_log_group.invoker.name
    register-dataset = aws_cloudwatch_log_group.register.name
  }
}
