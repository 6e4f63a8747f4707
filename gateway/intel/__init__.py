"""Indonesian text intelligence: class, region, agency routing, spam and personal data, beside the record."""
