"""What a person reads: notices rendered from reviewed Welsh and English templates."""
