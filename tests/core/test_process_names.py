"""Long nested process names are shortened to keep the pipeline prefix and the step."""

from __future__ import annotations

import pytest

from nfk8s.render import short_process_name

LONG = (
    "NFCORE_RNASEQ:RNASEQ:FASTQ_QC_TRIM_FILTER_SETSTRANDEDNESS:"
    "FASTQ_FASTQC_UMITOOLS_TRIMGALORE:TRIMGALORE"
)


@pytest.mark.parametrize("width", [16, 20, 26, 40, 80])
def test_names_fit_and_keep_their_last_part(width):
    short = short_process_name(LONG, width)
    assert len(short) <= width
    assert short.endswith("TRIMGALORE") or short.endswith(LONG[-(width - 1) :])


def test_a_name_that_fits_is_left_alone():
    assert short_process_name("NFCORE_RNASEQ:RNASEQ:FASTQC", 40) == "NFCORE_RNASEQ:RNASEQ:FASTQC"


def test_the_workflow_prefix_is_kept_when_there_is_room():
    assert short_process_name(LONG, 40) == "NFCORE_RNASEQ:…:TRIMGALORE"


def test_a_single_part_name_keeps_its_end():
    assert short_process_name("A" * 30 + "XYZ", 10) == "…" + "A" * 6 + "XYZ"
