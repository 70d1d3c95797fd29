# Funnel Rocket in an existing VPC, reading datasets from an existing bucket.
# The root module (../..) configures the AWS provider from var.region.

module "frocket" {
  source = "../.."

  region      = var.region
  name_prefix = var.name_prefix

  # The VPC, its private subnets (2+ AZs) and their route tables.
  vpc_id                  = var.vpc_id
  private_subnet_ids      = var.private_subnet_ids
  private_route_table_ids = var.private_route_table_ids

  # Set false when the VPC already has an S3 gateway endpoint on these route tables.
  create_s3_endpoint = var.create_s3_endpoint

  # Lambda API through an interface endpoint; with a NAT gateway instead, set
  # interface_endpoint_services = [] and functions_https_egress_cidr_blocks = ["0.0.0.0/0"].
  interface_endpoint_services        = var.interface_endpoint_services
  functions_https_egress_cidr_blocks = var.functions_https_egress_cidr_blocks

  # Datasets already live in these buckets: no new bucket.
  create_dataset_bucket = false
  dataset_bucket_names  = var.dataset_bucket_names

  lambda_build_dir = var.lambda_build_dir
}
