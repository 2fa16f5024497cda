"""`clarion load_areas` and `clarion load_postcodes`, and moving areas in the tree."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clarion.areas.models import Area, Postcode
from clarion.areas.services import area_create, area_move

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(command, path):
    out, err = io.StringIO(), io.StringIO()
    call_command(command, str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def assert_paths_consistent():
    """Every area's path is its parent's path plus its own id; depth matches."""
    for area in Area.objects.select_related("parent"):
        parent_path = area.parent.path if area.parent else "/"
        assert area.path == f"{parent_path}{area.pk}/", area.code
        assert area.depth == area.path.count("/") - 2, area.code


def test_demo_areas_and_postcodes_load(db):
    out, _err = run("load_areas", FIXTURES / "demo_areas.csv")
    assert out.startswith("created ")
    assert Area.objects.count() == int(out.split()[1].rstrip(","))
    assert_paths_consistent()
    out, err = run("load_postcodes", FIXTURES / "demo_postcodes.csv")
    assert "rejected 0" in out and err == ""
    assert Postcode.objects.filter(area__isnull=False).exists()


def test_parents_may_come_after_children_and_bom_is_ignored(db, tmp_path):
    path = write(
        tmp_path,
        "areas.csv",
        "\ufeffcode,name,kind,parent_code\nB1,Ward One,branch,C1\nC1,Constituency,constituency,R1\nR1,Region,region,\n",
    )
    out, _err = run("load_areas", path)
    assert out.strip() == "created 3, updated 0"
    ward = Area.objects.get(code="B1")
    assert ward.parent.code == "C1" and ward.parent.parent.code == "R1" and ward.depth == 2
    assert_paths_consistent()


def test_bad_lines_stop_the_whole_areas_load_and_are_listed(db, tmp_path):
    path = write(
        tmp_path,
        "areas.csv",
        "code,name,kind,parent_code\nR1,Region,region,\nX1,,branch,R1\nX2,Two,moon,R1\nX3,Three,branch,GHOST\n",
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="No areas were loaded"):
        call_command("load_areas", str(path), stdout=io.StringIO(), stderr=err)
    lines = err.getvalue()
    assert "Line 3: code and name are required." in lines
    assert "Line 4: unknown kind 'moon'." in lines
    assert "Line 5: parent 'GHOST' is not a known area code." in lines
    assert not Area.objects.exists()


def test_missing_or_unreadable_file_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("load_areas", tmp_path / "nope.csv")
    with pytest.raises(CommandError, match="Cannot read"):
        run("load_postcodes", write(tmp_path, "pc.csv", "postcode\nLS1 1AA\n", encoding="utf-16"))


def test_reloading_areas_updates_names_kinds_and_parents(db, tmp_path):
    run(
        "load_areas",
        write(
            tmp_path,
            "v1.csv",
            "code,name,kind,parent_code\nN,Nation,nation,\nR1,North,region,N\nR2,South,region,N\n"
            "C1,Leeds,constituency,R1\nB1,Ward,branch,C1\n",
        ),
    )
    leeds_pk = Area.objects.get(code="C1").pk
    out, _err = run(
        "load_areas",
        write(
            tmp_path,
            "v2.csv",
            "code,name,kind,parent_code\nC1,Leeds & District,constituency,R2\nR2,The South,region,N\n",
        ),
    )
    assert out.strip() == "created 0, updated 2"
    leeds = Area.objects.get(code="C1")
    assert leeds.pk == leeds_pk and leeds.name == "Leeds & District"
    assert leeds.parent.code == "R2" and Area.objects.get(code="R2").name == "The South"
    # The ward moved with its constituency.
    ward = Area.objects.get(code="B1")
    assert ward.path.startswith(Area.objects.get(code="R2").path)
    assert_paths_consistent()


def test_area_move_rewrites_the_whole_subtree(areas):
    area_move(area=areas.leeds, parent=areas.south)
    for area in (areas.leeds, areas.leeds_central):
        area.refresh_from_db()
    assert areas.leeds.path == f"{areas.south.path}{areas.leeds.pk}/"
    assert areas.leeds_central.path == f"{areas.leeds.path}{areas.leeds_central.pk}/"
    assert areas.leeds_central.depth == 3
    assert areas.leeds_central.is_within(areas.south) and not areas.leeds_central.is_within(
        areas.north
    )
    assert_paths_consistent()


def test_moving_a_subtree_to_the_top_and_deeper(areas):
    area_move(area=areas.north, parent=None)
    areas.leeds_central.refresh_from_db()
    assert areas.leeds_central.depth == 2
    deep = area_create(code="DEEP", name="Deep", kind=Area.Kind.GROUP, parent=areas.bristol_east)
    area_move(area=areas.north, parent=deep)
    areas.leeds_central.refresh_from_db()
    assert areas.leeds_central.depth == 7
    assert_paths_consistent()


def test_an_area_cannot_move_inside_itself(areas):
    with pytest.raises(ValueError, match="inside itself"):
        area_move(area=areas.north, parent=areas.leeds_central)
    areas.north.refresh_from_db()
    assert areas.north.parent == areas.nation


def test_people_scoped_to_a_moved_area_follow_it(areas):
    from clarion.core.models import User
    from clarion.core.testing import factories
    from clarion.people.selectors import people_for

    north_person = factories.person(postcode=areas.postcodes["north"])
    south_organiser = factories.staff_user(role=User.Role.ORGANISER, area=areas.south)
    assert not people_for(south_organiser).filter(pk=north_person.pk).exists()
    area_move(area=areas.leeds, parent=areas.south)
    assert people_for(south_organiser).filter(pk=north_person.pk).exists()


def test_postcodes_load_skips_bad_lines_and_reports_them(areas, tmp_path):
    path = write(
        tmp_path,
        "pc.csv",
        "postcode,latitude,longitude,area_code\nls6 1aa,53.81,-1.57,B-LDS1\nBAD,1,2,\nLS6 2BB,,,\n"
        "LS6 3DD,53.8,-200,\nLS6 4EE,53.8,-1.5,NOPE\nLS6 5FF,53.8,-1.5,\n",
    )
    out, err = run("load_postcodes", path)
    assert out.strip() == "created 2, updated 0, rejected 4"
    assert (
        "Line 3:" in err
        and "Line 4:" in err
        and "Line 5:" in err
        and "Line 6: unknown area code 'NOPE'" in err
    )
    assert Postcode.objects.get(postcode="LS6 1AA").area == areas.leeds_central
    assert Postcode.objects.get(postcode="LS6 5FF").area is None


def test_reloading_postcodes_updates_them(areas, tmp_path):
    run(
        "load_postcodes",
        write(
            tmp_path, "a.csv", "postcode,latitude,longitude,area_code\nLS6 1AA,53.81,-1.57,B-LDS1\n"
        ),
    )
    out, _err = run(
        "load_postcodes",
        write(
            tmp_path, "b.csv", "postcode,latitude,longitude,area_code\nLS61AA,51.0,-2.0,B-BRS1\n"
        ),
    )
    assert out.strip() == "created 0, updated 1, rejected 0"
    pc = Postcode.objects.get(postcode="LS6 1AA")
    assert (pc.latitude, pc.longitude, pc.area) == (51.0, -2.0, areas.bristol_east)


def test_many_bad_postcode_lines_are_summarised(db, tmp_path):
    body = "".join(f"BAD{n},0,0,\n" for n in range(60))
    out, err = run(
        "load_postcodes",
        write(tmp_path, "pc.csv", "postcode,latitude,longitude,area_code\n" + body),
    )
    assert "rejected 60" in out
    assert "... and 10 more bad lines" in err
