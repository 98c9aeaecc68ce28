"""Faces: the engine (detect, align, describe), the dlib network, the archive's index, search, people.

People are grouped by average linkage that never puts two faces of one photo together
(:mod:`core.faces.cluster`); the user's decisions, kept per archive, win on every re-index.

At scale the archive's index is packed into one cache entry by the batch job, with an HNSW graph
(faiss, imported on first use) from 20,000 faces on; below that, search is exact.

Public verbs, by module:
- :mod:`core.faces.engine`: MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine, align_points
- :mod:`core.faces.dlib_net`: DlibModelError, dlib_model_file, DlibResNet, load_dlib_resnet
- :mod:`core.faces.index`: PACK_FORMAT, FaceIndex, FacePack, index_status, build_face_index, load_face_index, pack_face_index, delete_face_index, face_chip
- :mod:`core.faces.search`: ANN_MIN_FACES, FaceSearcher, AnnFaceSearcher, FaceMatches, search_photo
- :mod:`core.faces.cluster`: ClusterReport, average_linkage, threshold_components, attach_nearest
- :mod:`core.faces.people`: PeopleClusterer, SamePhotoError, PeopleBook, People, clean_name, assign_people, people_table, find_people, rename_person, merge_people, split_person, shared_photos, remove_faces, confirm_faces, reject_person, hide_person, set_cover, set_min_faces, post_people, post_person_labels, photo_person_labels, delete_people
- :mod:`core.faces.suggest`: SUGGEST_DISTANCE, person_means, naming_queue, merge_suggestions, photo_years, age_suggestions
- :mod:`core.faces.draw`: draw_faces
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["engine", "dlib_net", "index", "search", "cluster", "people", "suggest", "draw"])
