select
    nation.nation_key,
    nation.nation_name as nation,
    region.region_key,
    region.region_name as region
from {{ ref('stg_nation') }} as nation
join {{ ref('stg_region') }} as region on nation.region_key = region.region_key
order by nation.nation_key
