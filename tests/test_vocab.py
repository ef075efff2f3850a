import pytest

from shiquan.vocab import graph_name, mint


def test_mint_builds_readable_instance_iri():
    assert str(mint("plan", "haidong-dongzhengban-2024-96")) == "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"


def test_mint_joins_several_slugs_with_slashes():
    iri = mint("assignment", "haidong-dongzhengban-2024-96", "zhuanli-jiangli", "county")
    assert str(iri).endswith("/assignment/haidong-dongzhengban-2024-96/zhuanli-jiangli/county")


@pytest.mark.parametrize("slug", ["Zhuanli", "zhuanli--jiangli", "-zhuanli", "专利奖励", "zhuanli jiangli", "a/b", ""])
def test_mint_rejects_unreadable_slug(slug):
    with pytest.raises(ValueError, match="bad slug"):
        mint("matter", slug)


def test_mint_rejects_bad_type():
    with pytest.raises(ValueError, match="bad IRI type"):
        mint("Matter", "zhuanli-jiangli")


def test_graph_name_rejects_bad_slug():
    with pytest.raises(ValueError, match="bad graph name"):
        graph_name("Haidong Plan")
