"""The embedded default: simulated corpora written in the real corpora's file formats.

Two corpora stand in for CREMA-D and MSP-IMPROV when the real ones are absent. They are written on
disk exactly as the real releases and the tools the paper used lay them out (WAV files, label files,
OpenFace 2.x CSVs, Montreal Forced Aligner TextGrids), so the rest of the pipeline reads them through
the same readers it uses for the real data.

Modules
-------
phones        pronunciations (CMUdict) and the phone inventory
articulation  speakers, emotion effects, utterance timing, articulatory trajectories
synth         source-filter synthesis from the articulatory trajectory, recording channel
face          68-point face landmarks driven by the lips, head pose, tracking failures
sentences     the corpora's sentence texts
writers       OpenFace CSV and TextGrid writers
corpora       the two corpus generators (:func:`generate_crema_d`, :func:`generate_msp_improv`)
"""
