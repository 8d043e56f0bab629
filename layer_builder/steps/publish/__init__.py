"""Step 4, publish: a layer version from the uploaded object, under the publish lock."""
