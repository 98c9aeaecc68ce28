"""Faces: detection, alignment and embedding (the engine), the dlib network, the archive index, people.

Public verbs, by module:
- :mod:`core.faces.engine`: MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine, FaceSearcher, FaceIndex, align_points, index_status, build_face_index, load_face_index, delete_face_index, face_chip, draw_faces
- :mod:`core.faces.dlib_net`: DlibModelError, dlib_model_file, DlibResNet, load_dlib_resnet
- :mod:`core.faces.people`: PeopleClusterer, PeopleBook, clean_name, assign_people, people_table, post_people, post_person_labels, delete_people
"""

from . import engine, dlib_net, people
from .engine import (
    MODEL_VERSION,
    SAME_PERSON_THRESHOLD,
    Face,
    FaceEngine,
    FaceSearcher,
    FaceIndex,
    align_points,
    index_status,
    build_face_index,
    load_face_index,
    delete_face_index,
    face_chip,
    draw_faces,
)
from .dlib_net import (
    DlibModelError,
    dlib_model_file,
    DlibResNet,
    load_dlib_resnet,
)
from .people import (
    PeopleClusterer,
    PeopleBook,
    clean_name,
    assign_people,
    people_table,
    post_people,
    post_person_labels,
    delete_people,
)

__all__ = [*engine.__all__, *dlib_net.__all__, *people.__all__]
