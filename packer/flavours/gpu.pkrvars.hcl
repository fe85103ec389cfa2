flavour              = "gpu"
instance_type        = "c6i.4xlarge"
target_instance_type = "p5.48xlarge"
volume_size          = 100
