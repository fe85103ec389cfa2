flavour              = "cpu"
instance_type        = "c6i.2xlarge"
target_instance_type = ""
volume_size          = 50
