output "worker_role_arn" {
  description = "Execution role ARN of the worker function."
  value       = aws_iam_role.this["worker"].arn

  # A function created before its role can manage ENIs fails: hand out the ARN once the
  # policies are attached.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc_access]
}

output "invoker_role_arn" {
  description = "Execution role ARN of the query-invoker function."
  value       = aws_iam_role.this["query-invoker"].arn

  # A function created before its role can manage ENIs fails: hand out the ARN once the
  # policies are attached.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc_access]
}

output "register_role_arn" {
  description = "Execution role ARN of the register-dataset function."
  value       = aws_iam_role.this["register-dataset"].arn

  # A function created before its role can manage ENIs fails: hand out the ARN once the
  # policies are attached.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc_access]
}

output "role_names" {
  description = "Role names, by function (worker, query-invoker, register-dataset)."
  value       = { for k, role in aws_iam_role.this : k => role.name }
}

output "worker_function_arn" {
  description = "Worker function ARN as computed from its name (what the invoker may invoke)."
  value       = local.worker_function_arn
}

output "invoker_function_arn" {
  description = "Query-invoker function ARN as computed from its name."
  value       = local.invoker_function_arn
}
