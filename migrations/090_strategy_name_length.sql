-- A strategy's name is a DNS label: the CHECK on orderflow_strategies.name held its alphabet
-- but not its length, so `orderflow strategy set` stored names of any length, which no
-- TradingStrategy can have (the operator refuses a name past 63 characters). A new row's name
-- is now at most 63 characters (orderflow.strategy.names). A trigger on INSERT, not a CHECK: a
-- CHECK is tested on every UPDATE too, so a longer name stored before this could no longer be
-- paused or killed.
CREATE FUNCTION strategy_name_length() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF char_length(NEW.name) > 63 THEN
        RAISE EXCEPTION 'strategy name of % characters: at most 63 (a DNS label)',
            char_length(NEW.name)
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER orderflow_strategies_name_length
    BEFORE INSERT ON orderflow_strategies
    FOR EACH ROW EXECUTE FUNCTION strategy_name_length();
