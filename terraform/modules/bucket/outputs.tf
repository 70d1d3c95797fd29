output "bucket_name" {
  description = "Name of the dataset bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the dataset bucket."
  value       = aws_s3_bucket.this.arn
}

output "basepath" {
  description = "s3:// URL of the bucket, the start of a dataset's basepath."
  value       = "s3://${aws_s3_bucket.this.id}/"
}
