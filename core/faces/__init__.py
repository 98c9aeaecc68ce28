"""Faces: detection, alignment and embedding (the engine), the dlib network, the archive index, people.

Public verbs, by module:
- :mod:`core.faces.engine`: MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine, FaceSearcher, FaceIndex, align_points, index_status, build_face_index, load_face_index, delete_face_index, face_chip, draw_faces
- :mod:`core.faces.dlib_net`: DlibModelError, dlib_model_file, DlibResNet, load_dlib_resnet
- :mod:`core.faces.people`: PeopleClusterer, PeopleBook, clean_name, assign_people, people_table, post_people, post_person_labels, delete_people
"""

from . import dlib_net, engine, people
from .dlib_net import (
    DlibModelError,
    DlibResNet,
    dlib_model_file,
    load_dlib_resnet,
)
from .engine import (
    MODEL_VERSION,
    SAME_PERSON_THRESHOLD,
    Face,
    FaceEngine,
    FaceIndex,
    FaceSearcher,
    align_points,
    build_face_index,
    delete_face_index,
    draw_faces,
    face_chip,
    index_status,
    load_face_index,
)
from .people import (
    PeopleBook,
    PeopleClusterer,
    assign_people,
    clean_name,
    delete_people,
    people_table,
    post_people,
    post_person_labels,
)

__all__ = [*engine.__all__, *dlib_net.__all__, *people.__all__]
