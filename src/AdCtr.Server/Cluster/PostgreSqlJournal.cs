using AdCtr.Grains.Journal;
using AdCtr.Server.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace AdCtr.Server.Cluster;

/// <summary>
/// The cluster's example journal in PostgreSQL (tables in <c>Hosting/Sql/adctr-journal.sql</c>). A batch is appended by
/// one statement, so one round trip and one commit per batch whatever its size: it bumps each of the batch's campaigns'
/// journal heads and inserts one entry per campaign (the campaign's rows, encoded) at the positions it took. A batch
/// with an idempotency key already journaled is not appended again. Reads serve the campaign grains' replays.
/// <para>
/// Every failure to reach PostgreSQL is a <see cref="JournalUnavailableException"/>, and marks the journal unhealthy
/// (readiness says why) until a write, a read or the probe (<see cref="ProbeAsync"/>) succeeds again.
/// </para>
/// </summary>
internal sealed class PostgreSqlJournal : ICampaignJournal, IAsyncDisposable
{
    /// <summary>
    /// Inserts the key (when there is one; a key already present makes every later part select nothing), bumps the heads
    /// of the batch's campaigns in campaign order (row locks taken in one order: no deadlock between two batches), inserts
    /// the entries at the positions taken, and returns each campaign's new head. Data-modifying CTEs run once, to
    /// completion, and see each other only through RETURNING (PostgreSQL manual, 7.8.4 "Data-Modifying Statements in WITH").
    /// </summary>
    private const string AppendSql = """
        WITH k AS (
            INSERT INTO adctr_ingest_batch (batch_key) SELECT $1 WHERE $1 IS NOT NULL
            ON CONFLICT (batch_key) DO NOTHING RETURNING 1),
        input AS (
            SELECT t.campaign, t.n, t.payload FROM unnest($2::text[], $3::integer[], $4::bytea[]) AS t(campaign, n, payload)),
        heads AS (
            INSERT INTO adctr_journal_head AS h (campaign, last_seq)
            SELECT campaign, n FROM input WHERE $1 IS NULL OR EXISTS (SELECT 1 FROM k) ORDER BY campaign
            ON CONFLICT (campaign) DO UPDATE SET last_seq = h.last_seq + EXCLUDED.last_seq
            RETURNING h.campaign, h.last_seq),
        entries AS (
            INSERT INTO adctr_journal (campaign, first_seq, n, payload)
            SELECT i.campaign, hd.last_seq - i.n + 1, i.n, i.payload FROM input i JOIN heads hd ON hd.campaign = i.campaign)
        SELECT campaign, last_seq FROM heads
        """;

    private const string ReadSql =
        "SELECT first_seq, n, payload FROM adctr_journal WHERE campaign = $1 AND first_seq > $2 AND first_seq <= $3 ORDER BY first_seq";

    private readonly NpgsqlDataSource _source;
    private readonly string _description;
    private readonly int _commandTimeoutSeconds;
    private volatile string? _failure;

    /// <summary>
    /// Connections of the journal's pool per silo when the connection string does not set <c>Maximum Pool Size</c>
    /// (Npgsql's own default, 100, lets three silos exceed PostgreSQL's default <c>max_connections</c> of 100 as soon
    /// as a burst of grain activations reads checkpoints at once: "53300: sorry, too many clients already"). A busy
    /// pool makes a statement wait for a connection instead; README "Scale-out" has the arithmetic.
    /// </summary>
    internal const int DefaultMaxPoolSize = 16;

    public PostgreSqlJournal(string connectionString, TimeSpan commandTimeout)
    {
        _source = NpgsqlDataSource.Create(WithPoolLimit(connectionString));
        _description = PostgreSqlSchema.Describe(connectionString);
        _commandTimeoutSeconds = Math.Max(1, (int)Math.Ceiling(commandTimeout.TotalSeconds));
    }

    /// <summary>The connection string with <c>Maximum Pool Size</c> = <see cref="DefaultMaxPoolSize"/> unless it sets one.</summary>
    internal static string WithPoolLimit(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        foreach (string key in given.Keys)
        {
            if (key.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant() is "MAXPOOLSIZE" or "MAXIMUMPOOLSIZE")
            {
                return connectionString;
            }
        }

        return new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = DefaultMaxPoolSize }.ConnectionString;
    }

    /// <summary>The connections of the journal and of the checkpoints (one pool).</summary>
    public NpgsqlDataSource Source => _source;

    public int CommandTimeoutSeconds => _commandTimeoutSeconds;

    /// <summary>Receives every append's outcome (the metrics), or null.</summary>
    public IJournalObserver? Observer { get; set; }

    /// <summary>Why the journal is unusable now (the last failure), or null when its last use succeeded.</summary>
    public string? Failure => _failure;

    /// <summary>
    /// Appends the entries of one batch (campaign ids in ordinal order, their row counts and encoded rows) and commits.
    /// Returns each campaign's last position after the append (its entry is at last - n + 1 .. last), or null when
    /// <paramref name="batchKey"/> was journaled before (nothing appended).
    /// </summary>
    public async Task<Dictionary<string, long>?> AppendAsync(string? batchKey, string[] campaigns, int[] counts, byte[][] payloads, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var command = _source.CreateCommand(AppendSql);
                command.CommandTimeout = _commandTimeoutSeconds;
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)batchKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter { Value = campaigns, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter { Value = counts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                command.Parameters.Add(new NpgsqlParameter { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
                var heads = new Dictionary<string, long>(campaigns.Length, StringComparer.Ordinal);
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        heads[reader.GetString(0)] = reader.GetInt64(1);
                    }
                }

                _failure = null;
                var duplicate = heads.Count == 0 && batchKey is not null && campaigns.Length > 0;
                Observer?.Appended(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, duplicate ? 0 : counts.Sum());
                return duplicate ? null : heads;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < 3)
            {
                // Rolled back as a whole: nothing of the batch was journaled, so it is safe to run again.
            }
            catch (Exception e) when (IsUnavailable(e) && !cancellationToken.IsCancellationRequested)
            {
                Observer?.Failed();
                throw Unavailable("the batch was not journaled", e);
            }
        }
    }

    public async Task<IReadOnlyList<JournalEntry>> ReadAsync(string campaignId, long afterSeq, long upToSeq, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _source.CreateCommand(ReadSql);
            command.CommandTimeout = _commandTimeoutSeconds;
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = afterSeq, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = upToSeq, NpgsqlDbType = NpgsqlDbType.Bigint });
            var entries = new List<JournalEntry>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    entries.Add(new JournalEntry(reader.GetInt64(0), reader.GetInt32(1), reader.GetFieldValue<byte[]>(2)));
                }
            }

            _failure = null;
            return entries;
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            throw Unavailable("campaign '" + campaignId + "' could not read its journal", e);
        }
    }

    /// <summary>One <c>SELECT 1</c>: clears <see cref="Failure"/> when PostgreSQL answers again.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _source.CreateCommand("SELECT 1");
            command.CommandTimeout = _commandTimeoutSeconds;
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            _failure = null;
        }
        catch (Exception e) when (IsUnavailable(e) && !cancellationToken.IsCancellationRequested)
        {
            MarkFailed(e);
        }
    }

    /// <summary>Exceptions that mean PostgreSQL could not be used (not a bug of ours).</summary>
    internal static bool IsUnavailable(Exception e) => e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidOperationException { Source: "Npgsql" };

    internal JournalUnavailableException Unavailable(string what, Exception e)
    {
        MarkFailed(e);
        return new JournalUnavailableException("PostgreSQL (" + _description + ") is unavailable: " + what + " (" + e.GetType().Name + ": " + e.Message + ")");
    }

    private void MarkFailed(Exception e) =>
        _failure = "PostgreSQL (" + _description + ") is unreachable (" + e.GetType().Name + ": " + e.Message + "); examples are answered 503 until it is back";

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}

/// <summary>Probes PostgreSQL every second while the journal is marked unreachable, so readiness returns when it does.</summary>
internal sealed class JournalHealthProbe(PostgreSqlJournal journal) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (journal.Failure is not null)
                {
                    await journal.ProbeAsync(stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
