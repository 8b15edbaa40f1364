"""Shipping zones between pincodes, first on plain data, then on real pincodes through the pincode
directory (the embedded indian-pincode data: no network, fast enough for unit tests)."""

from __future__ import annotations

import pytest

from ordermesh.adapters.pincode_directory import lookup
from ordermesh.domain.zones import (
    PincodeInfo,
    Zone,
    classify,
    distance_km,
    lane,
    metro_area,
    region,
    special_area,
    zone_for,
)

# Plain data, as the directory would build it (coordinates rounded).
BHIWANDI = PincodeInfo("421302", "27", "THANE", 19.30, 73.15)
MUMBAI = PincodeInfo("400001", "27", "MUMBAI", 18.94, 72.84)
PUNE = PincodeInfo("411001", "27", "PUNE", 18.52, 73.86)
NAGPUR = PincodeInfo("440001", "27", "NAGPUR", 21.15, 79.09)
NEW_DELHI = PincodeInfo("110001", "07", "NEW DELHI", 28.62, 77.21)
GURUGRAM = PincodeInfo("122001", "06", "GURUGRAM", 28.46, 77.03)
JAIPUR = PincodeInfo("302001", "08", "JAIPUR", 26.92, 75.80)
BENGALURU = PincodeInfo("560001", "29", "BENGALURU URBAN", 12.97, 77.59)
MYSURU = PincodeInfo("570001", "29", "MYSURU", 12.31, 76.66)
CHENNAI = PincodeInfo("600001", "33", "CHENNAI", 13.09, 80.29)
COIMBATORE = PincodeInfo("641001", "33", "COIMBATORE", 11.0, 76.96)
GUWAHATI = PincodeInfo("781001", "18", "KAMRUP METRO", 26.19, 91.75)
SHILLONG = PincodeInfo("793001", "17", "EAST KHASI HILLS", 25.57, 91.88)
SRINAGAR = PincodeInfo("190001", "01", "SRINAGAR", 34.07, 74.82)
LEH = PincodeInfo("194101", "38", "LEH LADAKH", 34.16, 77.58)
PORT_BLAIR = PincodeInfo("744101", "35", "SOUTH ANDAMANS", 11.67, 92.74)
KAVARATTI = PincodeInfo("682555", "31", "LAKSHADWEEP DISTRICT")
# India Post lists Agartala's 799001 under Telangana; the postal prefix still says North-East.
AGARTALA_MISLABELLED = PincodeInfo("799001", "36", "NIRMAL")


# --- the zone table ---------------------------------------------------------------------------


def test_zones_rank_from_near_to_far_with_their_rate_card_letters() -> None:
    # when
    table = [(z.value, z.rank, z.letter) for z in sorted(Zone, key=lambda z: z.rank)]
    # then
    assert table == [
        ("local", 0, "A"),
        ("regional", 1, "B"),
        ("metro", 2, "C"),
        ("national", 3, "D"),
        ("special", 4, "E"),
    ]


@pytest.mark.parametrize(
    ("origin", "destination", "zone", "reason"),
    [
        (MUMBAI, MUMBAI, Zone.LOCAL, "same pincode"),
        (BHIWANDI, MUMBAI, Zone.LOCAL, "same metro area (mumbai)"),
        (GURUGRAM, NEW_DELHI, Zone.LOCAL, "same metro area (delhi_ncr)"),
        (JAIPUR, PincodeInfo("302017", "08", "JAIPUR"), Zone.LOCAL, "same district"),
        (MUMBAI, PUNE, Zone.REGIONAL, "same state"),
        (BENGALURU, MYSURU, Zone.REGIONAL, "same state"),
        (GUWAHATI, SHILLONG, Zone.REGIONAL, "within one special area (north_east)"),
        (SRINAGAR, LEH, Zone.REGIONAL, "within one special area (jammu_kashmir_ladakh)"),
        (BENGALURU, CHENNAI, Zone.METRO, "metro to metro (bengaluru to chennai)"),
        (MUMBAI, NEW_DELHI, Zone.METRO, "metro to metro (mumbai to delhi_ncr)"),
        (NEW_DELHI, JAIPUR, Zone.REGIONAL, "same region (north)"),
        (BENGALURU, COIMBATORE, Zone.REGIONAL, "same region (south)"),
        (BHIWANDI, JAIPUR, Zone.NATIONAL, "rest of India"),
        (NAGPUR, CHENNAI, Zone.NATIONAL, "rest of India"),
        (MUMBAI, GUWAHATI, Zone.SPECIAL, "into a special area (north_east)"),
        (NEW_DELHI, SRINAGAR, Zone.SPECIAL, "into a special area (jammu_kashmir_ladakh)"),
        (CHENNAI, PORT_BLAIR, Zone.SPECIAL, "into a special area (andaman_nicobar)"),
        (MUMBAI, KAVARATTI, Zone.SPECIAL, "into a special area (lakshadweep)"),
        (GUWAHATI, NEW_DELHI, Zone.NATIONAL, "rest of India"),
    ],
)
def test_zone_for_a_lane(origin: PincodeInfo, destination: PincodeInfo, zone: Zone, reason: str) -> None:
    # when
    found = classify(origin, destination)
    # then
    assert found == (zone, reason)
    assert zone_for(origin, destination) is zone


def test_a_special_destination_is_special_even_under_the_wrong_state() -> None:
    # given: a mislabelled row that claims Telangana for an Agartala pincode
    hyderabad = PincodeInfo("500001", "36", "HYDERABAD")
    # when / then: the postal prefix still marks it North-East, so even "same state" does not apply
    assert special_area(AGARTALA_MISLABELLED) == "north_east"
    assert zone_for(hyderabad, AGARTALA_MISLABELLED) is Zone.SPECIAL


def test_special_is_about_the_destination_only() -> None:
    # Guwahati to Jaipur is an ordinary lane; Jaipur to Guwahati is special
    assert zone_for(GUWAHATI, JAIPUR) is Zone.NATIONAL
    assert zone_for(JAIPUR, GUWAHATI) is Zone.SPECIAL


def test_the_same_district_name_in_two_states_is_not_local() -> None:
    # given: Aurangabad is a district in Maharashtra and in Bihar
    maharashtra = PincodeInfo("431001", "27", "AURANGABAD")
    bihar = PincodeInfo("824101", "10", "AURANGABAD")
    # then
    assert zone_for(maharashtra, bihar) is Zone.NATIONAL


def test_an_unknown_state_or_district_never_makes_a_lane_nearer() -> None:
    # given: pincodes the data could not place
    unknown_a = PincodeInfo("999998", "")
    unknown_b = PincodeInfo("999999", "")
    # then: not "same state", not "same district"
    assert zone_for(unknown_a, unknown_b) is Zone.NATIONAL
    assert zone_for(PincodeInfo("400150", "27"), MUMBAI) is Zone.REGIONAL


@pytest.mark.parametrize(
    ("info", "metro", "special", "area"),
    [
        (NEW_DELHI, "delhi_ncr", None, "north"),
        (PincodeInfo("110085", "07", "NORTH WEST"), "delhi_ncr", None, "north"),
        (PincodeInfo("201301", "09", "GAUTAM BUDDHA NAGAR"), "delhi_ncr", None, "north"),
        (PincodeInfo("226001", "09", "LUCKNOW"), None, None, "north"),
        (PincodeInfo("700001", "19", "KOLKATA"), "kolkata", None, "east"),
        (PincodeInfo("500032", "36", "RANGA REDDY"), "hyderabad", None, "south"),
        (PincodeInfo("380001", "24", "AHMADABAD"), "ahmedabad", None, "west"),
        (PUNE, "pune", None, "west"),
        (PincodeInfo("462001", "23", "BHOPAL"), None, None, "central"),
        (PincodeInfo("737101", "11", "EAST DISTRICT"), None, "north_east", None),
        (PORT_BLAIR, None, "andaman_nicobar", None),
    ],
)
def test_metro_special_area_and_region(
    info: PincodeInfo, metro: str | None, special: str | None, area: str | None
) -> None:
    assert (metro_area(info), special_area(info), region(info)) == (metro, special, area)


def test_distance_is_the_great_circle_between_centroids() -> None:
    # when
    km = distance_km(MUMBAI, NEW_DELHI)
    # then: about 1,160 km as the crow flies
    assert km is not None
    assert 1150 < km < 1175
    assert distance_km(MUMBAI, MUMBAI) == 0
    assert distance_km(NEW_DELHI, MUMBAI) == pytest.approx(km)


def test_distance_is_unknown_without_coordinates() -> None:
    assert distance_km(MUMBAI, KAVARATTI) is None
    assert distance_km(KAVARATTI, MUMBAI) is None


def test_a_lane_is_zone_and_distance_together() -> None:
    # when
    zone, km = lane(BENGALURU, CHENNAI)
    # then
    assert zone is Zone.METRO
    assert km == distance_km(BENGALURU, CHENNAI)


# --- real pincodes, through the pincode directory --------------------------------------------


@pytest.mark.parametrize(
    ("origin", "destination", "zone"),
    [
        ("421302", "400001", Zone.LOCAL),  # Bhiwandi -> Mumbai GPO: both in the Mumbai metro area
        ("122001", "110001", Zone.LOCAL),  # Gurugram -> New Delhi: Delhi NCR
        ("201301", "110001", Zone.LOCAL),  # Noida -> New Delhi: Delhi NCR across a state border
        ("560001", "600001", Zone.METRO),  # Bengaluru -> Chennai
        ("380001", "400001", Zone.METRO),  # Ahmedabad -> Mumbai
        ("400001", "781001", Zone.SPECIAL),  # Mumbai -> Guwahati
        ("110001", "190001", Zone.SPECIAL),  # New Delhi -> Srinagar
        ("600001", "744101", Zone.SPECIAL),  # Chennai -> Port Blair
        ("400001", "799001", Zone.SPECIAL),  # Mumbai -> Agartala (mislabelled in the data)
        ("421302", "302001", Zone.NATIONAL),  # Bhiwandi -> Jaipur
        ("400001", "411001", Zone.REGIONAL),  # Mumbai -> Pune: same state
        ("110001", "302001", Zone.REGIONAL),  # New Delhi -> Jaipur: same region
        ("781001", "793001", Zone.REGIONAL),  # Guwahati -> Shillong: within the North-East
        ("400111", "400001", Zone.LOCAL),  # a Mumbai pincode the data gives no state
    ],
)
def test_zones_for_real_pincodes(origin: str, destination: str, zone: Zone) -> None:
    # given
    a, b = lookup(origin), lookup(destination)
    assert a is not None and b is not None
    # then
    assert zone_for(a, b) is zone


def test_the_directory_gives_gst_state_district_and_centroid() -> None:
    # when
    info = lookup("421302")
    # then
    assert info is not None
    assert (info.pincode, info.state_code, info.district) == ("421302", "27", "THANE")
    assert info.lat is not None and info.lon is not None
    assert 19.0 < info.lat < 19.6 and 72.8 < info.lon < 73.4


@pytest.mark.parametrize("pincode", ["", "12345", "0123456", "021302", "abcdef", "999999"])
def test_the_directory_knows_nothing_of_malformed_or_unknown_pincodes(pincode: str) -> None:
    assert lookup(pincode) is None


def test_the_directory_places_pincodes_the_data_leaves_without_a_state() -> None:
    # given: 400111 (Mumbai) and 201319 (Noida) have no state in India Post's data
    # when
    mumbai, noida = lookup("400111"), lookup("201319")
    # then: their neighbours in the same sorting district agree on state and district
    assert mumbai is not None and (mumbai.state_code, mumbai.district) == ("27", "MUMBAI SUBURBAN")
    assert noida is not None and (noida.state_code, noida.district) == ("09", "GAUTAM BUDDHA NAGAR")


def test_the_centroid_is_not_dragged_away_by_one_bad_office() -> None:
    # given: the package's own centroid for Noida 201301 lies in Madhya Pradesh (mean of bad rows)
    noida, delhi = lookup("201301"), lookup("110001")
    assert noida is not None and delhi is not None
    # when
    km = distance_km(noida, delhi)
    # then: Noida is next to Delhi
    assert km is not None and km < 40


def test_a_pincode_on_two_districts_takes_the_one_with_most_offices_in_its_state() -> None:
    # given: India Post lists 110025 under BUDAUN (Uttar Pradesh), SOUTH and SOUTH EAST
    info = lookup("110025")
    # then
    assert info is not None
    assert info.state_code == "07"
    assert info.district in {"SOUTH", "SOUTH EAST"}


def test_a_pincode_without_coordinates_has_no_centroid() -> None:
    info = lookup("682555")  # Kavaratti, Lakshadweep: no office has coordinates
    assert info is not None
    assert (info.state_code, info.lat, info.lon) == ("31", None, None)


def test_the_directory_is_memoised() -> None:
    assert lookup("560001") is lookup("560001")
