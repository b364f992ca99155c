namespace Presence;

/// <summary>Options of <see cref="PostgreSqlPresenceStore"/>.</summary>
public sealed class PostgreSqlPresenceStoreOptions
{
    /// <summary>The default <see cref="Schema"/>: <c>presence</c>.</summary>
    public const string DefaultSchema = "presence";

    /// <summary>The default <see cref="BatchSize"/>: 5,000 rows.</summary>
    public const int DefaultBatchSize = 5_000;

    /// <summary>The default <see cref="MaxPendingRows"/>: 100,000 rows.</summary>
    public const int DefaultMaxPendingRows = 100_000;

    /// <summary>The default <see cref="FlushBound"/>: one second.</summary>
    public static readonly TimeSpan DefaultFlushBound = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="RetryDelay"/>: 100 milliseconds.</summary>
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>The default <see cref="MaxRetryDelay"/>: five seconds.</summary>
    public static readonly TimeSpan DefaultMaxRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the PostgreSQL schema holding the store's tables; created when missing.</summary>
    /// <value>The default value is <c>presence</c>. Letters, digits and underscores, starting with a letter or underscore, at most 63 characters.</value>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>
    /// Gets or sets the longest one batch of presence records may take to write. Records handed to the store are written at
    /// once (what arrives while a write runs goes in the next one); a write that takes longer is cancelled, its records kept
    /// and retried, and its callers told. So a record is durable within this bound of being saved while the database keeps
    /// up, and a crash loses at most what was saved within it.
    /// </summary>
    /// <value>The default value is one second.</value>
    public TimeSpan FlushBound { get; set; } = DefaultFlushBound;

    /// <summary>Gets or sets the most presence records written in one statement (and the most users read in one query).</summary>
    /// <value>The default value is 5,000.</value>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>
    /// Gets or sets the most presence records held while the database is unreachable, newest per user. Past it, records of
    /// further users are refused (logged, counted in <see cref="PostgreSqlPresenceMetrics.RowsDropped"/>) and their save
    /// fails, so the engine keeps them and saves them again later.
    /// </summary>
    /// <value>The default value is 100,000.</value>
    public int MaxPendingRows { get; set; } = DefaultMaxPendingRows;

    /// <summary>Gets or sets the first wait after a failed write; each further failure doubles it up to <see cref="MaxRetryDelay"/>.</summary>
    /// <value>The default value is 100 milliseconds.</value>
    public TimeSpan RetryDelay { get; set; } = DefaultRetryDelay;

    /// <summary>Gets or sets the longest wait between two attempts to write while the database fails.</summary>
    /// <value>The default value is five seconds.</value>
    public TimeSpan MaxRetryDelay { get; set; } = DefaultMaxRetryDelay;

    internal PostgreSqlPresenceStoreOptions Clone() => (PostgreSqlPresenceStoreOptions)MemberwiseClone();
}
