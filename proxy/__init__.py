"""On-demand image resize proxy over the S3 REST endpoint."""
