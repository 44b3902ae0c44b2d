"""The name search's algorithm (services/registry/enterprises/search.py), without a database:
which pairs a query is matched by and which form its fuzzy match takes. The database side of the
same rules is held to these by tests/registry/test_enterprises.py."""

from itertools import combinations

import pytest

from services.registry.enterprises import search


def test_a_query_is_read_as_the_database_reads_a_name():
    assert search.letters(" Zhe Jiang\tABC 科技 ") == "zhejiangabc科技"
    assert search.bigrams("科技科技") == ["技科", "科技"]  # distinct, sorted
    assert search.bigrams("华") == ["华"] and search.bigrams("  ") == []


def test_stop_pairs_are_not_used_for_matching_unless_nothing_else_is_left():
    _, grams, _ = search.search_terms("杭州精密有限公司")
    assert set(grams) == {"杭州", "州精", "精密", "密有"}
    _, grams, need = search.search_terms("有限公司")
    assert grams == ("公司", "有限", "限公") and need == 2


def test_the_prefix_pattern_escapes_like_wildcards():
    pattern, _, _ = search.search_terms(" 50%_a\\ ")
    assert pattern == "50\\%\\_a\\\\%"


@pytest.mark.parametrize(("k", "need"), [(1, 1), (2, 2), (3, 2), (4, 2), (6, 4), (9, 6), (11, 8)])
def test_a_long_fuzzy_query_must_share_about_two_thirds_of_its_pairs(k, need):
    assert search.fuzzy_need(k) == need
    assert need <= max(k - 2, 2) or k <= 2  # one mistyped character breaks two pairs


def test_one_edit_sets_cover_a_mistyped_an_extra_and_a_missing_character():
    sets = search.one_edit_grams("精密机械")
    # 密 mistyped: 精_机 bridges it; 机械 stays; a set of fewer than two useful grams is left out
    assert ("机械", "精_机") in sets
    # a character missing between 密 and 机: the skip pair 密_机 with the intact pairs
    assert ("密_机", "机械", "精密") in sets
    assert all(len(s) >= 2 for s in sets)
    assert not any(set(a) < set(b) for a in sets for b in sets)  # no set implied by a smaller one


def test_the_fuzzy_form_follows_the_querys_length_and_pairs():
    short = search.fuzzy("精密机械")
    assert short.kind == "one_edit" and short.sets == search.one_edit_grams("精密机械")
    assert search.fuzzy("公司").kind == "one_edit" and search.fuzzy("公司").sets == ()  # no fuzzy match

    two = search.fuzzy("有限公司有限公司有限公司甲")  # 13 characters, two useful pairs: both needed
    assert two.kind == "all" and set(two.grams) == {"司有", "司甲"}

    few = search.fuzzy("浙江有限公司集团股份甲乙丙")  # 6 pairs, 4 needed: 15 combinations
    _, grams, need = search.search_terms("浙江有限公司集团股份甲乙丙")
    assert few.kind == "any_set" and few.sets == tuple(combinations(grams, need))

    many = search.fuzzy("华东精密仪器科技研蜜院有限")  # 11 pairs, 8 needed: the pigeonhole form
    _, grams, need = search.search_terms("华东精密仪器科技研蜜院有限")
    assert many.kind == "shared" and many.grams == grams and many.need == need == 8
    assert many.sets == (grams[: len(grams) - need + 1],)


def test_an_exact_credit_code_is_not_a_name_search():
    assert search.is_name_search("杭州精密")
    assert not search.is_name_search("91330106MA27XY0122")
    assert search.is_name_search("91330106MA27XY0123")  # a wrong check character: a name
    assert not search.is_name_search(None)
