"""The me page refuses nothing of its own: every refusal comes from the domain it reads (cart, accounts…)."""
