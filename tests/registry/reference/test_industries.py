"""The industry classification (reference/industries.py): all of GB/T 4754-2017 as the standard
prints it, only its classes accepted as an enterprise's industry, a 2011 code answered with its
2017 classes."""

import pytest

from services.registry.reference.industries import class_problem, classes_2011, industries, section_of


def test_the_whole_classification_is_shipped():
    levels = [i.level for i in industries().values()]
    assert {lvl: levels.count(lvl) for lvl in set(levels)} == {
        "section": 20,
        "division": 97,
        "group": 473,
        "class": 1381,  # one more than the 1,380 usually quoted (the reference README explains it)
    }


@pytest.mark.parametrize(
    ("code", "name", "parent"),
    [
        ("0164", "茶叶种植", "016"),
        ("1712", "棉织造加工", "171"),
        ("5132", "服装批发", "513"),
        ("6513", "应用软件开发", "651"),
        ("7530", "科技中介服务", "753"),
        ("1200", "其他采矿业", "120"),
        ("9100", "中国共产党机关", "910"),
        ("9700", "国际组织", "970"),
        ("6621", "商业银行服务", "662"),
        ("3741", "飞机制造", "374"),
    ],
)
def test_spot_names(code, name, parent):
    i = industries()[code]
    assert (i.name, i.parent, i.level) == (name, parent, "class")


def test_every_code_sits_under_its_parent_in_its_section():
    for i in industries().values():
        if i.level == "section":
            assert i.parent is None and i.section == i.code
            continue
        parent = industries()[i.parent]
        assert i.section == parent.section
        if i.level != "division":
            assert i.code.startswith(parent.code)


def test_exactly_the_classes_are_accepted():
    accepted = {f"{n:04d}" for n in range(10_000) if class_problem(f"{n:04d}") is None}
    assert accepted == {c for c, i in industries().items() if i.level == "class"}
    for real in ("1200", "9100", "9700", "0111"):  # single-class groups end in 0
        assert class_problem(real) is None


def test_a_code_that_is_not_a_class_is_told_what_is():
    assert "group 331" in class_problem("3310") and "3311" in class_problem("3310")
    assert class_problem("9999") == "9999 is not a GB/T 4754-2017 class"
    assert "4-digit" in class_problem("331")
    assert "4-digit" in class_problem("33a1")


def test_a_2011_only_code_is_refused_with_its_2017_classes():
    code, (name, to) = next(iter(classes_2011().items()))
    problem = class_problem(code)
    assert "GB/T 4754-2011" in problem and name in problem
    assert all(c in problem for c in to)
    # every 2011 code that is no 2017 class maps only to real 2017 classes
    assert all(industries()[c].level == "class" for _, targets in classes_2011().values() for c in targets)


def test_the_section_of_a_code_is_its_divisions():
    assert [section_of(c) for c in ("0111", "0599", "0600", "4399", "6621", "9799")] == [
        "A",
        "A",
        "B",
        "C",
        "J",
        "T",
    ]
    assert {section_of(c) for c in ("0011", "9811", "9999", "ab11")} == {None}


async def test_the_list_is_public_and_filterable(client_for):
    registry_client = client_for("registry")
    r = await registry_client.get("/v1/industries")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "GB/T 4754-2017" and len(body["items"]) == 1971
    r = await registry_client.get("/v1/industries", params={"level": "section"})
    assert [i["code"] for i in r.json()["items"]][:3] == ["A", "B", "C"]
    r = await registry_client.get("/v1/industries", params={"parent": "331"})
    assert [i["code"] for i in r.json()["items"]] == [c for c, i in industries().items() if i.parent == "331"]
    r = await registry_client.get("/v1/industries", params={"level": "subclass"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/level"
