-- geography port v1 (deprecated until 2027-03-31): v2's rows under v1's column names.
select
    nation_key,
    nation as nation_name,
    region_key,
    region as region_name
from {{ ref('geography') }}
