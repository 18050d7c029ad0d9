"""Device discovery: what an IoT platform team can forecast."""
