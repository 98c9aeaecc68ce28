"""Faces: the engine (detect, align, describe), the dlib network, the archive's index, search, people.

Public verbs, by module:
- :mod:`core.faces.engine`: MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine, align_points
- :mod:`core.faces.dlib_net`: DlibModelError, dlib_model_file, DlibResNet, load_dlib_resnet
- :mod:`core.faces.index`: FaceIndex, index_status, build_face_index, load_face_index, delete_face_index, face_chip
- :mod:`core.faces.search`: FaceSearcher, FaceMatches, search_photo
- :mod:`core.faces.people`: PeopleClusterer, PeopleBook, People, clean_name, assign_people, people_table, find_people, rename_person, merge_people, split_person, post_people, post_person_labels, delete_people
- :mod:`core.faces.draw`: draw_faces
"""

from . import dlib_net, draw, engine, index, people, search
from .dlib_net import (
    DlibModelError,
    DlibResNet,
    dlib_model_file,
    load_dlib_resnet,
)
from .draw import draw_faces
from .engine import (
    MODEL_VERSION,
    SAME_PERSON_THRESHOLD,
    Face,
    FaceEngine,
    align_points,
)
from .index import (
    FaceIndex,
    build_face_index,
    delete_face_index,
    face_chip,
    index_status,
    load_face_index,
)
from .people import (
    People,
    PeopleBook,
    PeopleClusterer,
    assign_people,
    clean_name,
    delete_people,
    find_people,
    merge_people,
    people_table,
    post_people,
    post_person_labels,
    rename_person,
    split_person,
)
from .search import FaceMatches, FaceSearcher, search_photo

__all__ = [*engine.__all__, *dlib_net.__all__, *index.__all__, *search.__all__, *people.__all__, *draw.__all__]
