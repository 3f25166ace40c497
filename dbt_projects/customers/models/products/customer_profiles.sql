-- The phone's country code is derived here, before any port masks the phone itself.
select
    customer_key,
    name,
    address,
    nation_key,
    phone,
    substring(phone, 1, 2) as phone_country_code,
    account_balance,
    market_segment,
    comment
from {{ ref('stg_customer') }}
