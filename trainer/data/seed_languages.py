"""The languages of the training seeds whose recipes name them (Bactrian-X's 52, X-Instruction's 4), for the
language table's metadata (core.languages names no dataset itself)."""

from core.languages import register_languages

register_languages("bactrian-x", (
    "af ar az bn cs de en es et fa fi fr gl gu he hi hr id it ja ka kk km ko lt lv mk ml mn mr "
    "my ne nl pl ps pt ro ru si sl sv sw ta te th tl tr uk ur vi xh zh").split())
register_languages("x-instruction", ("bn", "sw", "ta", "ur"))
