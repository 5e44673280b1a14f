"""Running a bundle live: the signal job (`signals`), the ledger of every signal issued
(`ledger`), their outcomes once the horizon has passed (`scoring`) and the live record
(`record`, `record_report`)."""
