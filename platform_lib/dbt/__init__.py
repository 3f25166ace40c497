"""dbt's home in the platform: the project files written from descriptors (`files`), compiling a
domain's project (`compile`), reading its manifest (`manifest`) and invoking dbt in this process
(`invoke`). No Dagster here; the asset layer drives a build through dagster-dbt's translator."""
