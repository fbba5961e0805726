"""Files to and from model objects: parsing and validation only, no interpretation."""
