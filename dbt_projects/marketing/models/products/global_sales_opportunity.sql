-- TPC-H Q22: customers in selected countries with an above-average balance who never ordered.
-- The sum is cast to its contract's type: Spark would make it DECIMAL(25,2), DuckDB DECIMAL(38,2).
with candidates as (
    select
        customer_key,
        phone_country_code as cntrycode,
        account_balance
    from {{ source('customers', 'customer_profiles') }}
    where phone_country_code in ('{{ var("q22_country_codes") | join("', '") }}')
)

select
    cntrycode,
    count(*) as numcust,
    cast(sum(account_balance) as decimal(38, 2)) as totacctbal
from candidates
where account_balance > (select avg(account_balance) from candidates where account_balance > 0.00)
    and not exists (
        select 1 from {{ source('sales', 'orders') }} as orders
        where orders.customer_key = candidates.customer_key
    )
group by cntrycode
order by cntrycode
