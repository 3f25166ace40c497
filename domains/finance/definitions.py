from platform_lib import domain_definitions

defs = domain_definitions(__file__)
