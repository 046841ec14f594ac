"""Splink (batch Fellegi-Sunter on DuckDB) on the same records, for comparison with our resolver.

Inputs: our cleaned ``Record`` objects (the same cleaning for every method: folded names, ISO dates,
normalised postcodes). Outputs: a cluster label per record id. The model is Splink's documented
recipe: name, date-of-birth, postcode and address comparisons (with term-frequency adjustment on
the names), a sex and NHS-number exact match where the data has them, the prior estimated from
deterministic rules, u by random sampling, m by expectation maximisation on two blocking passes,
and clusters cut at a match probability of 0.95. Needs the benchmark extra:
``pip install -e '.[benchmark]'``.
"""

from __future__ import annotations

import logging

from streams.identity.resolver import Record


def splink_clusters(records: list[Record], uk_postcodes: bool = True) -> dict[str, str]:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    frame = pd.DataFrame([{
        "unique_id": r.record_id, "given_name": r.given_name or None, "family_name": r.family_name or None,
        "date_of_birth": r.date_of_birth.isoformat() if r.date_of_birth else None, "sex": r.sex or None,
        "nhs_number": r.nhs_number, "postcode": r.postcode or None, "address_line": r.address_line or None,
        "town": r.town or None,
    } for r in records])
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        cl.PostcodeComparison("postcode") if uk_postcodes else cl.ExactMatch("postcode"),
        cl.JaroWinklerAtThresholds("address_line"),
    ]
    rules = [block_on("date_of_birth"), block_on("given_name", "family_name"), block_on("postcode", "given_name")]
    for column in ("sex", "nhs_number", "town"):
        if frame[column].notna().any():
            comparisons.append(cl.ExactMatch(column))
    if frame["nhs_number"].notna().any():
        rules.insert(0, block_on("nhs_number"))
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons,
                               blocking_rules_to_generate_predictions=rules, retain_intermediate_calculation_columns=False)
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.95).as_pandas_dataframe()
    return dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"].astype(str), strict=True))
