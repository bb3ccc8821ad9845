"""Import results of external harnesses (garak, inspect) as modelcert evidence, with their text stripped."""
