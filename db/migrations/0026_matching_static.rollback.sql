-- Reverts 0026_matching_static: drops the stored points, their basis, the candidate indexes and what
-- db/triggers/60_matching_static.sql created on them; the previous version's files bring back the full-scan
-- app_private.match_candidates.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS mechanics_60_match_static ON app.mechanics;
DROP TRIGGER IF EXISTS mechanic_offer_stats_60_match_static ON app.mechanic_offer_stats;
DROP TRIGGER IF EXISTS matching_criteria_60_match_static ON app.matching_criteria;
DROP TRIGGER IF EXISTS matching_settings_60_match_static ON app.matching_settings;
DROP FUNCTION IF EXISTS app_private.mechanics_match_static();
DROP FUNCTION IF EXISTS app_private.mechanic_offer_stats_match_static();
DROP FUNCTION IF EXISTS app_private.matching_static_recompute();
DROP FUNCTION IF EXISTS app_private.matching_static_recompute_all();
DROP FUNCTION IF EXISTS app_private.matching_static_refresh(uuid[]);
DROP FUNCTION IF EXISTS app_private.matching_rating_mean();

DROP INDEX IF EXISTS app.mechanics_postal_key_idx;
DROP INDEX IF EXISTS app.mechanics_city_key_idx;
DROP INDEX IF EXISTS app.mechanics_search_document_idx;
DROP INDEX IF EXISTS app.mechanics_brand_keys_idx;
DROP TABLE IF EXISTS app.matching_static_basis;
DROP TABLE IF EXISTS app.mechanic_match_static;
