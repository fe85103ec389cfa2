flavour              = "neuron"
instance_type        = "c6i.4xlarge"
target_instance_type = "trn1.32xlarge"
volume_size          = 100
