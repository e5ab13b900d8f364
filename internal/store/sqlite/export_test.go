package sqlite

// AssociationCount reads the association count the triggers keep in a
// cluster's row, for tests that check it against the rows.
var AssociationCount = (*Store).associationCount
