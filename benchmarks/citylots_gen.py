"""A generator of city-lot events like ``../shared/corpus/citylots`` (seeded, no files needed).

Position: benchmark data.  ``benchmarks/run.py`` uses the shared corpus (50,000
events and event-ruler's expected counts) when it is present, and this
generator otherwise; then every count is checked against the reference
evaluator instead of event-ruler's numbers.

Events have the shape of the San Francisco city-lots GeoJSON features that
aws/event-ruler's CL2 benchmark reads (about 900 bytes each)::

    {"type": "Feature",
     "properties": {"MAPBLKLOT": "1613035", "BLKLOT": "1613035", "BLOCK_NUM": "1613", "LOT_NUM": "035",
                    "FROM_ST": "357", "TO_ST": "359", "STREET": "MANSELL", "ST_TYPE": "ST", "ODD_EVEN": "O"},
     "geometry": {"type": "Polygon", "coordinates": [[{"x": -122.39, "y": 37.76, "z": 0}, ...]],
                  "firstCoordinates": {"x": -122.39, "y": 37.76, "z": 0}}}

``CL2_RULES`` are event-ruler's 14 CL2 rule sets (five patterns each), as
``{set: {rule: pattern}}``, the same text as the shared ``rules.json``.

Usage: ``python benchmarks/citylots_gen.py N > events.jsonl``.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

STREETS = (
    "ALEMANY", "04TH", "CONNECTICUT", "27TH", "VALLEY", "GREENWICH", "FILLMORE", "RUTLAND", "OFARRELL", "MISSION",
    "FULTON", "MASON", "JEFFERSON", "BEACH", "HYDE", "CHESTNUT", "ACTON", "BLAKE", "DRUMM", "RHODE ISLAND",
    "KIRKHAM", "MANSELL", "MORAGA", "STANYAN", "WASHINGTON", "LAKE", "BURKE", "HEMLOCK", "LANSING", "LEGION",
    "SAN DIEGO", "BRANNAN", "FOLSOM", "HOWARD", "LINCOLN", "BALBOA", "JUDAH", "NORIEGA", "ORTEGA", "PACHECO",
    "ACADIA", "BLANKEN", "DRAKE", "FUNSTON", "RHINE", "ANZA", "CLEMENT", "GEARY", "IRVING", "TARAVAL",
)  # fmt: skip
ST_TYPES = ("ST", "ST", "ST", "ST", "AVE", "AVE", "WAY", "TER", "DR", "PL", "BLVD", "LN", "ALY", "CT", "RD", "CIR")


def event(rnd: random.Random) -> dict[str, Any]:
    """One city lot: a polygon (rarely a multipolygon) of 5-14 vertices around San Francisco."""
    block = f"{rnd.randint(1, 7600):04d}"
    lot = f"{rnd.randint(1, 300):03d}"
    mapblklot = block + lot if rnd.random() > 0.001 else "VACSTWIL"
    number = rnd.randint(1, 3000)
    x0, y0 = rnd.uniform(-122.514, -122.357), rnd.uniform(37.70, 37.81)

    def ring() -> list[dict[str, Any]]:
        pts = [{"x": x0 + rnd.uniform(-3e-4, 3e-4), "y": y0 + rnd.uniform(-3e-4, 3e-4), "z": 0}
               for _ in range(rnd.randint(5, 15))]
        pts[0] = {"x": x0, "y": y0, "z": 0}
        return pts + [dict(pts[0])]

    multi = rnd.random() < 0.0006
    coordinates: list[Any] = [[ring()], [ring()]] if multi else [ring()]
    return {
        "type": "Feature",
        "properties": {
            "MAPBLKLOT": mapblklot, "BLKLOT": mapblklot, "BLOCK_NUM": block, "LOT_NUM": lot,
            "FROM_ST": str(number), "TO_ST": str(number + rnd.choice((0, 0, 2))),
            "STREET": rnd.choice(STREETS), "ST_TYPE": rnd.choice(ST_TYPES), "ODD_EVEN": "E" if number % 2 == 0 else "O",
        },
        "geometry": {"type": "MultiPolygon" if multi else "Polygon", "coordinates": coordinates,
                     "firstCoordinates": {"x": x0, "y": y0, "z": 0}},
    }  # fmt: skip


def events(n: int, seed: int = 2024) -> list[bytes]:
    """``n`` compact JSON events (bytes), the same for the same seed."""
    rnd = random.Random(seed)
    return [json.dumps(event(rnd), separators=(",", ":")).encode() for _ in range(n)]


CL2_RULES: dict[str, dict[str, Any]] = {
 "EXACT": {
  "EXACT.r0": {
   "properties": {
    "MAPBLKLOT": [
     "1430022"
    ]
   }
  },
  "EXACT.r1": {
   "properties": {
    "MAPBLKLOT": [
     "2607117"
    ]
   }
  },
  "EXACT.r2": {
   "properties": {
    "MAPBLKLOT": [
     "2607218"
    ]
   }
  },
  "EXACT.r3": {
   "properties": {
    "MAPBLKLOT": [
     "3745012"
    ]
   }
  },
  "EXACT.r4": {
   "properties": {
    "MAPBLKLOT": [
     "VACSTWIL"
    ]
   }
  }
 },
 "WILDCARD": {
  "WILDCARD.r0": {
   "properties": {
    "MAPBLKLOT": [
     {
      "wildcard": "143*"
     }
    ]
   }
  },
  "WILDCARD.r1": {
   "properties": {
    "MAPBLKLOT": [
     {
      "wildcard": "2*0*1*7"
     }
    ]
   }
  },
  "WILDCARD.r2": {
   "properties": {
    "MAPBLKLOT": [
     {
      "wildcard": "*218"
     }
    ]
   }
  },
  "WILDCARD.r3": {
   "properties": {
    "MAPBLKLOT": [
     {
      "wildcard": "3*5*2"
     }
    ]
   }
  },
  "WILDCARD.r4": {
   "properties": {
    "MAPBLKLOT": [
     {
      "wildcard": "VA*IL"
     }
    ]
   }
  }
 },
 "PREFIX": {
  "PREFIX.r0": {
   "properties": {
    "STREET": [
     {
      "prefix": "AC"
     }
    ]
   }
  },
  "PREFIX.r1": {
   "properties": {
    "STREET": [
     {
      "prefix": "BL"
     }
    ]
   }
  },
  "PREFIX.r2": {
   "properties": {
    "STREET": [
     {
      "prefix": "DR"
     }
    ]
   }
  },
  "PREFIX.r3": {
   "properties": {
    "STREET": [
     {
      "prefix": "FU"
     }
    ]
   }
  },
  "PREFIX.r4": {
   "properties": {
    "STREET": [
     {
      "prefix": "RH"
     }
    ]
   }
  }
 },
 "PREFIX_EQUALS_IGNORE_CASE": {
  "PREFIX_EQUALS_IGNORE_CASE.r0": {
   "properties": {
    "STREET": [
     {
      "prefix": {
       "equals-ignore-case": "Ac"
      }
     }
    ]
   }
  },
  "PREFIX_EQUALS_IGNORE_CASE.r1": {
   "properties": {
    "STREET": [
     {
      "prefix": {
       "equals-ignore-case": "bL"
      }
     }
    ]
   }
  },
  "PREFIX_EQUALS_IGNORE_CASE.r2": {
   "properties": {
    "STREET": [
     {
      "prefix": {
       "equals-ignore-case": "dR"
      }
     }
    ]
   }
  },
  "PREFIX_EQUALS_IGNORE_CASE.r3": {
   "properties": {
    "STREET": [
     {
      "prefix": {
       "equals-ignore-case": "Fu"
      }
     }
    ]
   }
  },
  "PREFIX_EQUALS_IGNORE_CASE.r4": {
   "properties": {
    "STREET": [
     {
      "prefix": {
       "equals-ignore-case": "rH"
      }
     }
    ]
   }
  }
 },
 "SUFFIX": {
  "SUFFIX.r0": {
   "properties": {
    "STREET": [
     {
      "suffix": "ON"
     }
    ]
   }
  },
  "SUFFIX.r1": {
   "properties": {
    "STREET": [
     {
      "suffix": "KE"
     }
    ]
   }
  },
  "SUFFIX.r2": {
   "properties": {
    "STREET": [
     {
      "suffix": "MM"
     }
    ]
   }
  },
  "SUFFIX.r3": {
   "properties": {
    "STREET": [
     {
      "suffix": "ING"
     }
    ]
   }
  },
  "SUFFIX.r4": {
   "properties": {
    "STREET": [
     {
      "suffix": "GO"
     }
    ]
   }
  }
 },
 "SUFFIX_EQUALS_IGNORE_CASE": {
  "SUFFIX_EQUALS_IGNORE_CASE.r0": {
   "properties": {
    "STREET": [
     {
      "suffix": {
       "equals-ignore-case": "oN"
      }
     }
    ]
   }
  },
  "SUFFIX_EQUALS_IGNORE_CASE.r1": {
   "properties": {
    "STREET": [
     {
      "suffix": {
       "equals-ignore-case": "Ke"
      }
     }
    ]
   }
  },
  "SUFFIX_EQUALS_IGNORE_CASE.r2": {
   "properties": {
    "STREET": [
     {
      "suffix": {
       "equals-ignore-case": "mM"
      }
     }
    ]
   }
  },
  "SUFFIX_EQUALS_IGNORE_CASE.r3": {
   "properties": {
    "STREET": [
     {
      "suffix": {
       "equals-ignore-case": "InG"
      }
     }
    ]
   }
  },
  "SUFFIX_EQUALS_IGNORE_CASE.r4": {
   "properties": {
    "STREET": [
     {
      "suffix": {
       "equals-ignore-case": "gO"
      }
     }
    ]
   }
  }
 },
 "EQUALS_IGNORE_CASE": {
  "EQUALS_IGNORE_CASE.r0": {
   "properties": {
    "STREET": [
     {
      "equals-ignore-case": "jefferson"
     }
    ]
   }
  },
  "EQUALS_IGNORE_CASE.r1": {
   "properties": {
    "STREET": [
     {
      "equals-ignore-case": "bEaCh"
     }
    ]
   }
  },
  "EQUALS_IGNORE_CASE.r2": {
   "properties": {
    "STREET": [
     {
      "equals-ignore-case": "HyDe"
     }
    ]
   }
  },
  "EQUALS_IGNORE_CASE.r3": {
   "properties": {
    "STREET": [
     {
      "equals-ignore-case": "CHESTNUT"
     }
    ]
   }
  },
  "EQUALS_IGNORE_CASE.r4": {
   "properties": {
    "ST_TYPE": [
     {
      "equals-ignore-case": "st"
     }
    ]
   }
  }
 },
 "NUMERIC": {
  "NUMERIC.r0": {
   "geometry": {
    "type": [
     "Polygon"
    ],
    "firstCoordinates": {
     "x": [
      {
       "numeric": [
        "=",
        -122.42916360922355
       ]
      }
     ]
    }
   }
  },
  "NUMERIC.r1": {
   "geometry": {
    "type": [
     "MultiPolygon"
    ],
    "firstCoordinates": {
     "z": [
      {
       "numeric": [
        "=",
        0
       ]
      }
     ]
    }
   }
  },
  "NUMERIC.r2": {
   "geometry": {
    "firstCoordinates": {
     "x": [
      {
       "numeric": [
        "<",
        -122.41600944012424
       ]
      }
     ]
    }
   }
  },
  "NUMERIC.r3": {
   "geometry": {
    "firstCoordinates": {
     "x": [
      {
       "numeric": [
        ">",
        -122.41600944012424
       ]
      }
     ]
    }
   }
  },
  "NUMERIC.r4": {
   "geometry": {
    "firstCoordinates": {
     "x": [
      {
       "numeric": [
        ">",
        -122.46471267081272,
        "<",
        -122.4063085128395
       ]
      }
     ]
    }
   }
  }
 },
 "ANYTHING-BUT": {
  "ANYTHING-BUT.r0": {
   "properties": {
    "STREET": [
     {
      "anything-but": [
       "FULTON"
      ]
     }
    ]
   }
  },
  "ANYTHING-BUT.r1": {
   "properties": {
    "STREET": [
     {
      "anything-but": [
       "MASON"
      ]
     }
    ]
   }
  },
  "ANYTHING-BUT.r2": {
   "properties": {
    "ST_TYPE": [
     {
      "anything-but": [
       "ST"
      ]
     }
    ]
   }
  },
  "ANYTHING-BUT.r3": {
   "geometry": {
    "type": [
     {
      "anything-but": [
       "Polygon"
      ]
     }
    ]
   }
  },
  "ANYTHING-BUT.r4": {
   "properties": {
    "FROM_ST": [
     {
      "anything-but": [
       "441"
      ]
     }
    ]
   }
  }
 },
 "ANYTHING-BUT-IGNORE-CASE": {
  "ANYTHING-BUT-IGNORE-CASE.r0": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "equals-ignore-case": [
        "Fulton"
       ]
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-IGNORE-CASE.r1": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "equals-ignore-case": [
        "Mason"
       ]
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-IGNORE-CASE.r2": {
   "properties": {
    "ST_TYPE": [
     {
      "anything-but": {
       "equals-ignore-case": [
        "st"
       ]
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-IGNORE-CASE.r3": {
   "geometry": {
    "type": [
     {
      "anything-but": {
       "equals-ignore-case": [
        "polygon"
       ]
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-IGNORE-CASE.r4": {
   "properties": {
    "FROM_ST": [
     {
      "anything-but": {
       "equals-ignore-case": [
        "441"
       ]
      }
     }
    ]
   }
  }
 },
 "ANYTHING-BUT-PREFIX": {
  "ANYTHING-BUT-PREFIX.r0": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "prefix": "FULTO"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-PREFIX.r1": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "prefix": "MASO"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-PREFIX.r2": {
   "properties": {
    "ST_TYPE": [
     {
      "anything-but": {
       "prefix": "S"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-PREFIX.r3": {
   "geometry": {
    "type": [
     {
      "anything-but": {
       "prefix": "Poly"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-PREFIX.r4": {
   "properties": {
    "FROM_ST": [
     {
      "anything-but": {
       "prefix": "44"
      }
     }
    ]
   }
  }
 },
 "ANYTHING-BUT-SUFFIX": {
  "ANYTHING-BUT-SUFFIX.r0": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "suffix": "ULTON"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-SUFFIX.r1": {
   "properties": {
    "STREET": [
     {
      "anything-but": {
       "suffix": "ASON"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-SUFFIX.r2": {
   "properties": {
    "ST_TYPE": [
     {
      "anything-but": {
       "suffix": "T"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-SUFFIX.r3": {
   "geometry": {
    "type": [
     {
      "anything-but": {
       "suffix": "olygon"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-SUFFIX.r4": {
   "properties": {
    "FROM_ST": [
     {
      "anything-but": {
       "suffix": "41"
      }
     }
    ]
   }
  }
 },
 "ANYTHING-BUT-WILDCARD": {
  "ANYTHING-BUT-WILDCARD.r0": {
   "properties": {
    "MAPBLKLOT": [
     {
      "anything-but": {
       "wildcard": "143*"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-WILDCARD.r1": {
   "properties": {
    "MAPBLKLOT": [
     {
      "anything-but": {
       "wildcard": "2*0*1*7"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-WILDCARD.r2": {
   "properties": {
    "MAPBLKLOT": [
     {
      "anything-but": {
       "wildcard": "*218"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-WILDCARD.r3": {
   "properties": {
    "MAPBLKLOT": [
     {
      "anything-but": {
       "wildcard": "3*5*2"
      }
     }
    ]
   }
  },
  "ANYTHING-BUT-WILDCARD.r4": {
   "properties": {
    "MAPBLKLOT": [
     {
      "anything-but": {
       "wildcard": "VA*IL"
      }
     }
    ]
   }
  }
 },
 "COMPLEX_ARRAYS": {
  "COMPLEX_ARRAYS.r0": {
   "geometry": {
    "type": [
     "Polygon"
    ],
    "coordinates": {
     "x": [
      {
       "numeric": [
        "=",
        -122.42916360922355
       ]
      }
     ]
    }
   }
  },
  "COMPLEX_ARRAYS.r1": {
   "geometry": {
    "type": [
     "MultiPolygon"
    ],
    "coordinates": {
     "y": [
      {
       "numeric": [
        "=",
        37.729900216217324
       ]
      }
     ]
    }
   }
  },
  "COMPLEX_ARRAYS.r2": {
   "geometry": {
    "coordinates": {
     "x": [
      {
       "numeric": [
        "<",
        -122.41600944012424
       ]
      }
     ]
    }
   }
  },
  "COMPLEX_ARRAYS.r3": {
   "geometry": {
    "coordinates": {
     "x": [
      {
       "numeric": [
        ">",
        -122.41600944012424
       ]
      }
     ]
    }
   }
  },
  "COMPLEX_ARRAYS.r4": {
   "geometry": {
    "coordinates": {
     "x": [
      {
       "numeric": [
        ">",
        -122.46471267081272,
        "<",
        -122.4063085128395
       ]
      }
     ]
    }
   }
  }
 }
}

if __name__ == "__main__":
    for line in events(int(sys.argv[1]) if len(sys.argv) > 1 else 1000):
        sys.stdout.write(line.decode() + "\n")
