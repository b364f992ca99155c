using System.Text;
using System.Text.RegularExpressions;

namespace Presence.PostgreSql.Internal;

internal static partial class OptionsValidator
{
    public static void ThrowIfInvalid(PostgreSqlPresenceStoreOptions options)
    {
        var errors = new StringBuilder();
        void Fail(string message) => errors.Append(errors.Length == 0 ? string.Empty : " ").Append(message);

        if (options.Schema is null || !SchemaName().IsMatch(options.Schema))
        {
            Fail($"PostgreSqlPresenceStoreOptions.Schema ('{options.Schema}') must be 1 to 63 letters, digits or underscores, starting with a letter or underscore.");
        }

        if (options.FlushBound <= TimeSpan.Zero)
        {
            Fail($"PostgreSqlPresenceStoreOptions.FlushBound ({options.FlushBound}) must be positive.");
        }

        if (options.BatchSize is < 1 or > 100_000)
        {
            Fail($"PostgreSqlPresenceStoreOptions.BatchSize ({options.BatchSize}) must be between 1 and 100,000.");
        }

        if (options.MaxPendingRows < options.BatchSize)
        {
            Fail($"PostgreSqlPresenceStoreOptions.MaxPendingRows ({options.MaxPendingRows}) must be at least PostgreSqlPresenceStoreOptions.BatchSize ({options.BatchSize}).");
        }

        if (options.RetryDelay <= TimeSpan.Zero)
        {
            Fail($"PostgreSqlPresenceStoreOptions.RetryDelay ({options.RetryDelay}) must be positive.");
        }

        if (options.MaxRetryDelay < options.RetryDelay)
        {
            Fail($"PostgreSqlPresenceStoreOptions.MaxRetryDelay ({options.MaxRetryDelay}) must be at least PostgreSqlPresenceStoreOptions.RetryDelay ({options.RetryDelay}).");
        }

        if (errors.Length > 0)
        {
            throw new ArgumentException(errors.ToString(), nameof(options));
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaName();
}
