# Everything: vector buckets, IAM layers, the presign Lambda and the static site.

provider "aws" {
  region = var.region
}

module "s3vec" {
  source = "../../"

  project                = var.project
  environment            = var.environment
  vector_bucket_purposes = ["docs", "user-embeddings"]
  browser_bucket_purpose = "docs"
  browser_prefixes       = ["docs/", "demo/"]
  bedrock_model_id       = "amazon.titan-embed-text-v2:0"

  lambda_zip_path             = var.lambda_zip_path
  lambda_reserved_concurrency = 5
  write_token_sha256          = var.write_token_sha256

  site_source_dir       = var.site_source_dir
  extra_allowed_origins = var.extra_allowed_origins

  tags = {
    Owner = "s3vec"
  }
}
