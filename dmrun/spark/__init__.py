"""The Spark engine: k-means, decision trees and rule mining with Apache Spark MLlib.

pyspark is an optional dependency (``pip install 'dmrun[spark]'``). Only the modules of this
package import it, and only when a run with ``engine: spark`` starts.
"""
